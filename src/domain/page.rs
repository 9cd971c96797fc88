//! Paging parameters shared by every list endpoint.

/// The largest page a list endpoint serves.
pub const MAX_LIMIT: i64 = 1000;
/// The page size when a request names none (the reference's own sample asks for 10).
pub const DEFAULT_LIMIT: i64 = 10;

/// The largest offset a page stands for: far past any list.
pub const MAX_OFFSET: i64 = 1 << 60;

/// A checked page request: `page` from 1, `limit` in 1..=1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    pub page: i64,
    pub limit: i64,
}

impl Page {
    /// Checks the raw values; the error names the field at fault.
    pub fn parse(page: Option<i64>, limit: Option<i64>) -> Result<Page, String> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if page < 1 {
            return Err("page must be 1 or more".into());
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!("limit must be between 1 and {MAX_LIMIT}"));
        }
        Ok(Page { page, limit })
    }

    /// Rows before the page, at most [`MAX_OFFSET`]: a page past every list stays
    /// empty, and sums with the offset never overflow.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.limit).min(MAX_OFFSET)
    }

    /// How many pages `total` rows fill.
    pub fn total_pages(&self, total: i64) -> i64 {
        (total + self.limit - 1) / self.limit
    }
}

/// One page of rows and the count of all rows that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Page::parse(None, None).unwrap(), Page { page: 1, limit: 10 });
        assert!(Page::parse(Some(0), None).is_err());
        assert!(Page::parse(None, Some(0)).is_err());
        assert!(Page::parse(None, Some(1001)).is_err());
        let p = Page::parse(Some(3), Some(20)).unwrap();
        assert_eq!(p.offset(), 40);
        let far = Page::parse(Some(i64::MAX), Some(1000)).unwrap();
        assert_eq!(far.offset(), super::MAX_OFFSET);
        assert!(far.offset().checked_add(far.limit).is_some());
        assert_eq!(p.total_pages(0), 0);
        assert_eq!(p.total_pages(41), 3);
        assert_eq!(p.total_pages(40), 2);
    }
}
