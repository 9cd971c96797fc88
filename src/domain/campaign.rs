//! Campaigns: a named list of customers to call, with its dialling settings.

use serde::Serialize;

use super::account::parse_name;

/// Retries after the first failed call, when a campaign names none.
pub const DEFAULT_MAX_CALL_RETRY: i64 = 3;
/// Seconds between two calls to one customer, when a campaign names none.
pub const DEFAULT_TIME_BETWEEN_TWO_CALL: i64 = 1800;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub desc1: String,
    pub portal: String,
    /// Epoch milliseconds; 0 when unset.
    pub start_time: i64,
    /// Epoch milliseconds; 0 when unset.
    pub end_time: i64,
    pub max_call_retry: i64,
    /// Seconds.
    pub time_between_two_call: i64,
    /// The number the dialer calls out from.
    pub number: String,
    pub created: i64,
    pub updated: i64,
}

/// Campaign settings as a request gives them; absent fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignFields {
    pub name: Option<String>,
    pub desc1: Option<String>,
    pub portal: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub max_call_retry: Option<i64>,
    pub time_between_two_call: Option<i64>,
    pub number: Option<String>,
}

impl CampaignFields {
    /// Checks the values present; the error names the field.
    pub fn check(mut self) -> Result<CampaignFields, String> {
        if let Some(name) = &self.name {
            self.name = Some(parse_name("name", name)?);
        }
        for (field, value) in [
            ("start_time", self.start_time),
            ("end_time", self.end_time),
            ("max_call_retry", self.max_call_retry),
            ("time_between_two_call", self.time_between_two_call),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(format!("{field} must not be negative"));
            }
        }
        if let Some(desc) = &self.desc1
            && desc.chars().count() > 2000
        {
            return Err("desc1 is longer than 2000 characters".into());
        }
        if let Some(number) = &self.number
            && number.chars().count() > 50
        {
            return Err("number is longer than 50 characters".into());
        }
        Ok(self)
    }

    /// Applies these fields over an existing campaign (or a blank one for a new campaign).
    pub fn apply(self, mut c: Campaign) -> Result<Campaign, String> {
        let CampaignFields { name, desc1, portal, start_time, end_time, max_call_retry, time_between_two_call, number } =
            self.check()?;
        c.name = name.unwrap_or(c.name);
        c.desc1 = desc1.unwrap_or(c.desc1);
        c.portal = portal.unwrap_or(c.portal);
        c.start_time = start_time.unwrap_or(c.start_time);
        c.end_time = end_time.unwrap_or(c.end_time);
        c.max_call_retry = max_call_retry.unwrap_or(c.max_call_retry);
        c.time_between_two_call = time_between_two_call.unwrap_or(c.time_between_two_call);
        c.number = number.unwrap_or(c.number);
        if c.end_time != 0 && c.end_time < c.start_time {
            return Err("end_time is before start_time".into());
        }
        Ok(c)
    }
}

impl Campaign {
    /// A new campaign with default settings, before the request's fields are applied.
    pub fn blank(id: String, portal: String, now: i64) -> Campaign {
        Campaign {
            id,
            name: String::new(),
            desc1: String::new(),
            portal,
            start_time: 0,
            end_time: 0,
            max_call_retry: DEFAULT_MAX_CALL_RETRY,
            time_between_two_call: DEFAULT_TIME_BETWEEN_TWO_CALL,
            number: String::new(),
            created: now,
            updated: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_apply_over_defaults() {
        let fields = CampaignFields { name: Some("  Tết  ".into()), max_call_retry: Some(5), ..Default::default() };
        let c = fields.apply(Campaign::blank("CAAAAAAA".into(), "pt_x".into(), 7)).unwrap();
        assert_eq!(c.name, "Tết");
        assert_eq!(c.max_call_retry, 5);
        assert_eq!(c.time_between_two_call, DEFAULT_TIME_BETWEEN_TWO_CALL);
    }

    #[test]
    fn bad_values_name_their_field() {
        let blank = || Campaign::blank("CA".into(), "pt".into(), 0);
        let neg = CampaignFields { max_call_retry: Some(-1), ..Default::default() };
        assert_eq!(neg.apply(blank()).unwrap_err(), "max_call_retry must not be negative");
        let empty = CampaignFields { name: Some(" ".into()), ..Default::default() };
        assert_eq!(empty.apply(blank()).unwrap_err(), "name must not be empty");
        let order = CampaignFields { start_time: Some(10), end_time: Some(5), ..Default::default() };
        assert_eq!(order.apply(blank()).unwrap_err(), "end_time is before start_time");
    }
}
