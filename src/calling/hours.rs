//! Callable hours (CONTRACT §10.2): windows by weekday and holidays, read in the
//! called phone's own time zone, found from the number with libphonenumber's map
//! and the IANA rules (daylight saving included).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::Serialize;

use super::tzmap;

/// A window: the weekdays it applies to (1 Monday … 7 Sunday), from `start` up to but
/// not including `end`, in minutes after local midnight (`end` may be 1440, 24:00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub days: Vec<u8>,
    pub start: u16,
    pub end: u16,
}

/// A callable-hours set as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    pub id: i64,
    pub name: String,
    /// The zone for numbers that map to none.
    pub timezone: String,
    pub windows: Vec<Window>,
    pub holidays: Vec<NaiveDate>,
    pub preset: bool,
}

/// A set as `GET /v1/businesshour` shows it: as sent, plus `id` and `preset`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoursView {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub windows: Vec<WindowView>,
    pub holidays: Vec<String>,
    pub preset: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WindowView {
    pub days: Vec<u8>,
    pub start: String,
    pub end: String,
}

/// Whether `text` has exactly the shape of `pattern`: an ASCII digit where it has
/// `0`, its own character elsewhere (`00:00`, `0000-00-00`).
fn shaped(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| if p == b'0' { t.is_ascii_digit() } else { t == p })
}

fn minutes(field: &str, text: &str) -> Result<u16, String> {
    let bad = || format!("{field} must be a time HH:MM from 00:00 to 24:00, not '{text}'");
    let t = text.trim().as_bytes();
    if !shaped(text.trim(), "00:00") {
        return Err(bad());
    }
    let two = |i: usize| u16::from(t[i] - b'0') * 10 + u16::from(t[i + 1] - b'0');
    let (h, m) = (two(0), two(3));
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A zone name libphonenumber or a request gives, as the IANA rules know it.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

impl Hours {
    /// Checks a set a request sends; the error names the field (r=1).
    pub fn parse(
        name: String,
        timezone: &str,
        windows: &[WindowView],
        holidays: &[String],
    ) -> Result<(String, Vec<Window>, Vec<NaiveDate>), String> {
        let timezone = timezone.trim();
        if zone(timezone).is_none() {
            return Err(format!("timezone '{timezone}' is not an IANA time zone"));
        }
        if windows.is_empty() {
            return Err("windows must hold at least one window".into());
        }
        let mut parsed = Vec::with_capacity(windows.len());
        for (i, w) in windows.iter().enumerate() {
            let at = format!("windows[{i}]");
            if w.days.is_empty() || w.days.iter().any(|d| !(1..=7).contains(d)) {
                return Err(format!("{at}.days must list days from 1 (Monday) to 7 (Sunday)"));
            }
            let start = minutes(&format!("{at}.start"), &w.start)?;
            let end = minutes(&format!("{at}.end"), &w.end)?;
            if start == 1440 {
                return Err(format!("{at}.start must be before 24:00"));
            }
            if end == start {
                return Err(format!("{at} is empty: it ends when it starts"));
            }
            if end < start {
                return Err(format!("{at} ends before it starts: a window that crosses midnight is two windows"));
            }
            // Kept as sent, for GET to show them so; only membership counts.
            parsed.push(Window { days: w.days.clone(), start, end });
        }
        let mut dates = Vec::with_capacity(holidays.len());
        for (i, h) in holidays.iter().enumerate() {
            let bad = || format!("holidays[{i}] must be a date YYYY-MM-DD, not '{h}'");
            if !shaped(h.trim(), "0000-00-00") {
                return Err(bad());
            }
            let date = NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            dates.push(date);
        }
        let _ = name;
        Ok((timezone.to_string(), parsed, dates))
    }

    pub fn view(&self) -> HoursView {
        HoursView {
            id: self.id,
            name: self.name.clone(),
            timezone: self.timezone.clone(),
            windows: self
                .windows
                .iter()
                .map(|w| WindowView { days: w.days.clone(), start: hhmm(w.start), end: hhmm(w.end) })
                .collect(),
            holidays: self.holidays.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect(),
            preset: self.preset,
        }
    }

    /// Whether epoch second `t` is inside a window in zone `tz`.
    pub fn open_in(&self, tz: Tz, t: i64) -> bool {
        let Some(local) = tz.timestamp_opt(t, 0).single().or_else(|| tz.timestamp_opt(t, 0).earliest()) else {
            return false;
        };
        let date = local.date_naive();
        if self.holidays.contains(&date) {
            return false;
        }
        let day = local.weekday().number_from_monday() as u8;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.windows.iter().any(|w| w.days.contains(&day) && w.start <= minute && minute < w.end)
    }

    /// The first moment at or after `t` inside a window in zone `tz`: within a year,
    /// or within a week after the last holiday when they run on longer (ten years at
    /// most).
    pub fn next_open_in(&self, tz: Tz, t: i64) -> Option<i64> {
        if self.open_in(tz, t) {
            return Some(t);
        }
        let local = tz.timestamp_opt(t, 0).earliest()?.naive_local();
        // Sorted for the search below; a set's holidays usually are already.
        let holidays: std::borrow::Cow<[NaiveDate]> = if self.holidays.is_sorted() {
            std::borrow::Cow::Borrowed(&self.holidays)
        } else {
            let mut sorted = self.holidays.clone();
            sorted.sort_unstable();
            std::borrow::Cow::Owned(sorted)
        };
        let past_holidays = holidays.last().map_or(0, |last| (*last - local.date()).num_days() + 8);
        for offset in 0..=past_holidays.clamp(370, 3660) {
            let date = local.date() + chrono::Duration::days(offset);
            if holidays.binary_search(&date).is_ok() {
                continue;
            }
            let day = date.weekday().number_from_monday() as u8;
            let mut starts: Vec<u16> = self.windows.iter().filter(|w| w.days.contains(&day)).map(|w| w.start).collect();
            starts.sort_unstable();
            for start in starts {
                let naive = NaiveDateTime::new(date, NaiveTime::from_hms_opt(start as u32 / 60, start as u32 % 60, 0)?);
                // A start inside a daylight-saving gap opens at the first real minute after it.
                let at = (0..=180)
                    .find_map(|skip| tz.from_local_datetime(&(naive + chrono::Duration::minutes(skip))).earliest())?
                    .timestamp();
                if at > t && self.open_in(tz, at) {
                    return Some(at);
                }
            }
        }
        None
    }
}

/// The zones a phone is in, for its callable hours.
#[derive(Debug, Clone, PartialEq)]
pub enum PhoneZones {
    /// libphonenumber's Etc/Unknown (an invalid number, a Vietnamese landline): the
    /// set's own `timezone` applies.
    Unknown,
    Zones(Vec<Tz>),
}

/// The country calling codes whose mobile numbers are geographical.
const GEO_MOBILE_COUNTRIES: &[u16] = &[52, 54, 55, 62, 86];

/// The zones of an E.164 number (digits without `+`), as libphonenumber's
/// `time_zones_for_number` gives them: a geographical number by its longest prefix,
/// any other valid number by its country code.
pub fn phone_zones(phone: &str) -> PhoneZones {
    use phonenumber::Type;
    let Ok(number) = phonenumber::parse(None, format!("+{phone}")) else {
        return PhoneZones::Unknown;
    };
    let kind = number.number_type(&phonenumber::metadata::DATABASE);
    let code = number.code().value();
    let geographical = match kind {
        Type::FixedLine | Type::FixedLineOrMobile => true,
        Type::Mobile => GEO_MOBILE_COUNTRIES.contains(&code),
        _ => false,
    };
    let digits = match kind {
        Type::Unknown => return PhoneZones::Unknown,
        _ if geographical => format!("{code}{}", number.national().value()),
        _ => code.to_string(),
    };
    for len in (1..=tzmap::LONGEST_PREFIX.min(digits.len())).rev() {
        let Ok(prefix) = digits[..len].parse::<u64>() else {
            continue;
        };
        if let Ok(i) = tzmap::PREFIXES.binary_search_by(|(p, l, _)| (*l as usize, *p).cmp(&(len, prefix))) {
            let names = tzmap::PREFIXES[i].2;
            let zones: Vec<Tz> = names.iter().filter_map(|&z| zone(tzmap::ZONES[z as usize])).collect();
            return if zones.is_empty() { PhoneZones::Unknown } else { PhoneZones::Zones(zones) };
        }
    }
    PhoneZones::Unknown
}

/// Whether a phone is inside the set's hours at `t`: in every zone it maps to.
pub fn phone_open(hours: &Hours, zones: &PhoneZones, t: i64) -> bool {
    match zones {
        PhoneZones::Unknown => zone(&hours.timezone).is_some_and(|tz| hours.open_in(tz, t)),
        PhoneZones::Zones(zs) => zs.iter().all(|tz| hours.open_in(*tz, t)),
    }
}

/// The first moment at or after `t` when the phone is inside the set's hours in every
/// zone it maps to, within a year.
pub fn phone_next_open(hours: &Hours, zones: &PhoneZones, t: i64) -> Option<i64> {
    let zs: Vec<Tz> = match zones {
        PhoneZones::Unknown => vec![zone(&hours.timezone)?],
        PhoneZones::Zones(zs) => zs.clone(),
    };
    let mut at = t;
    // Each round moves to the latest of the zones' next openings; a few rounds
    // settle on a moment all of them are open, when there is one.
    for _ in 0..64 {
        let next = zs.iter().map(|tz| hours.next_open_in(*tz, at)).collect::<Option<Vec<i64>>>()?;
        let latest = *next.iter().max()?;
        if zs.iter().all(|tz| hours.open_in(*tz, latest)) {
            return Some(latest);
        }
        at = latest + 60;
    }
    None
}

/// Midnight of `t`'s day in the account's zone, and of the next day.
pub fn day_bounds(region: &str, t: i64) -> (i64, i64) {
    let tz = if region == "VN" { chrono_tz::Asia::Ho_Chi_Minh } else { chrono_tz::UTC };
    let Some(local) = tz.timestamp_opt(t, 0).earliest() else {
        return (t - t.rem_euclid(86_400), t - t.rem_euclid(86_400) + 86_400);
    };
    let midnight = |date: NaiveDate| {
        tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default()).earliest().map(|d| d.timestamp())
    };
    let today = local.date_naive();
    let start = midnight(today).unwrap_or(t);
    let end = midnight(today + chrono::Duration::days(1)).unwrap_or(start + 86_400);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(start: &str, end: &str, tz: &str) -> Hours {
        let windows = vec![WindowView { days: vec![1, 2, 3, 4, 5, 6, 7], start: start.into(), end: end.into() }];
        let (timezone, windows, holidays) = Hours::parse("x".into(), tz, &windows, &[]).unwrap();
        Hours { id: 1, name: "x".into(), timezone, windows, holidays, preset: false }
    }

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        tz.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().timestamp()
    }

    #[test]
    fn numbers_map_to_their_zones() {
        use chrono_tz::America;
        assert_eq!(phone_zones("12015550123"), PhoneZones::Zones(vec![America::New_York]));
        assert_eq!(phone_zones("16025550123"), PhoneZones::Zones(vec![America::Phoenix]));
        // A Vietnamese mobile is not geographical: its country's zone.
        assert_eq!(phone_zones("84901234567"), PhoneZones::Zones(vec![chrono_tz::Asia::Ho_Chi_Minh]));
        // An old landline prefix is no valid number today: unknown, the set's own zone.
        assert_eq!(phone_zones("84654521598"), PhoneZones::Unknown);
        assert_eq!(phone_zones("999"), PhoneZones::Unknown);
    }

    #[test]
    fn windows_follow_daylight_saving_in_new_york() {
        use chrono_tz::America::New_York;
        let tcpa = hours("08:00", "21:00", "America/New_York");
        let ny = PhoneZones::Zones(vec![New_York]);
        // 8:30 local on both sides of the March change (UTC-5, then UTC-4).
        assert!(phone_open(&tcpa, &ny, at(New_York, 2026, 3, 7, 8, 30)));
        assert!(phone_open(&tcpa, &ny, at(New_York, 2026, 3, 9, 8, 30)));
        // 7:30 local is closed whatever the offset: a fixed UTC-5 would call at 7:30 EDT.
        assert!(!phone_open(&tcpa, &ny, at(New_York, 2026, 3, 9, 7, 30)));
        assert!(!phone_open(&tcpa, &ny, at(New_York, 2026, 11, 2, 21, 0)));
        // The next opening is 8:00 local on the day after.
        let night = at(New_York, 2026, 11, 1, 22, 0);
        assert_eq!(phone_next_open(&tcpa, &ny, night), Some(at(New_York, 2026, 11, 2, 8, 0)));
    }

    #[test]
    fn arizona_keeps_standard_time() {
        use chrono_tz::America::Phoenix;
        let tcpa = hours("08:00", "21:00", "America/New_York");
        let az = phone_zones("16025550123");
        // In July, 8:00 in Phoenix is 11:00 in New York: open in Phoenix's own terms.
        assert!(phone_open(&tcpa, &az, at(Phoenix, 2026, 7, 1, 8, 0)));
        assert!(!phone_open(&tcpa, &az, at(Phoenix, 2026, 7, 1, 7, 59)));
    }

    #[test]
    fn unknown_numbers_use_the_sets_zone_and_holidays_close() {
        use chrono_tz::Asia::Ho_Chi_Minh;
        let mut vn = hours("08:00", "17:00", "Asia/Ho_Chi_Minh");
        assert!(phone_open(&vn, &PhoneZones::Unknown, at(Ho_Chi_Minh, 2026, 12, 4, 9, 0)));
        assert!(!phone_open(&vn, &PhoneZones::Unknown, at(Ho_Chi_Minh, 2026, 12, 4, 17, 0)));
        vn.holidays.push(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        assert!(!phone_open(&vn, &PhoneZones::Unknown, at(Ho_Chi_Minh, 2026, 12, 4, 9, 0)));
        assert_eq!(
            phone_next_open(&vn, &PhoneZones::Unknown, at(Ho_Chi_Minh, 2026, 12, 4, 9, 0)),
            Some(at(Ho_Chi_Minh, 2026, 12, 5, 8, 0))
        );
    }

    #[test]
    fn holidays_longer_than_a_year_still_end() {
        use chrono_tz::Asia::Ho_Chi_Minh;
        let mut vn = hours("08:00", "17:00", "Asia/Ho_Chi_Minh");
        let first = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        vn.holidays = (0..400).rev().map(|d| first + chrono::Duration::days(d)).collect();
        let reopens = first + chrono::Duration::days(400);
        assert_eq!(
            phone_next_open(&vn, &PhoneZones::Unknown, at(Ho_Chi_Minh, 2026, 12, 4, 9, 0)),
            Some(at(Ho_Chi_Minh, reopens.year(), reopens.month(), reopens.day(), 8, 0))
        );
    }

    #[test]
    fn windows_are_checked() {
        let bad = |start: &str, end: &str| {
            let w = vec![WindowView { days: vec![1], start: start.into(), end: end.into() }];
            Hours::parse("x".into(), "UTC", &w, &[]).unwrap_err()
        };
        assert!(bad("22:00", "02:00").contains("crosses midnight"));
        assert!(bad("8:00", "17:00").contains("HH:MM"));
        assert!(bad("08:00", "24:30").contains("HH:MM"));
        let w = vec![WindowView { days: vec![1], start: "00:00".into(), end: "24:00".into() }];
        assert!(Hours::parse("x".into(), "UTC", &w, &[]).is_ok());
        assert!(Hours::parse("x".into(), "Mars/Olympus", &w, &[]).unwrap_err().contains("IANA"));
    }

    #[test]
    fn days_start_at_local_midnight() {
        let t = at(chrono_tz::Asia::Ho_Chi_Minh, 2026, 12, 4, 1, 0);
        let (start, end) = day_bounds("VN", t);
        assert_eq!(start, at(chrono_tz::Asia::Ho_Chi_Minh, 2026, 12, 4, 0, 0));
        assert_eq!(end - start, 86_400);
        assert_eq!(day_bounds("US", t).0 % 86_400, 0);
    }
}
