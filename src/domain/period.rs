//! Periods of days: what `?on=` (one day) and OGC API's `datetime` (an instant or an
//! interval, either end open) ask the dated layers for.

use chrono::NaiveDate;

/// Days from `from` to `to`, both included; an absent end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Period {
    /// First day (none: since always).
    pub from: Option<NaiveDate>,
    /// Last day (none: for ever).
    pub to: Option<NaiveDate>,
}

impl Period {
    /// One day.
    pub fn day(day: NaiveDate) -> Period {
        Period { from: Some(day), to: Some(day) }
    }

    /// The first and last day, open ends as the earliest and latest dates.
    pub fn bounds(&self) -> (NaiveDate, NaiveDate) {
        (self.from.unwrap_or(NaiveDate::MIN), self.to.unwrap_or(NaiveDate::MAX))
    }

    /// Whether a window from `from` to `to` (inclusive; `None`: open-ended) shares a day
    /// with the period.
    pub fn meets(&self, from: NaiveDate, to: Option<NaiveDate>) -> bool {
        let (first, last) = self.bounds();
        from <= last && to.is_none_or(|to| to >= first)
    }

    /// Reads OGC API – Features `datetime` (RFC 3339, at day resolution): an instant
    /// (`2026-05-01` or `2026-05-01T08:00:00Z`) or an interval `start/end` where either
    /// end may be `..` or empty (open). The error says what is wrong.
    pub fn parse_datetime(text: &str) -> Result<Period, String> {
        let day = |s: &str| -> Result<Option<NaiveDate>, String> {
            let s = s.trim();
            if s.is_empty() || s == ".." {
                return Ok(None);
            }
            let date = s.get(..10).unwrap_or(s);
            let rest = s.get(10..).unwrap_or("");
            if !rest.is_empty() && chrono::DateTime::parse_from_rfc3339(s).is_err() {
                return Err(format!("`{s}` is not an RFC 3339 date or date-time"));
            }
            date.parse::<NaiveDate>().map(Some).map_err(|_| format!("`{s}` is not an RFC 3339 date or date-time"))
        };
        match text.split_once('/') {
            None if text.trim().is_empty() || text.trim() == ".." => Err("an instant needs a date".to_string()),
            None => day(text).map(|d| Period { from: d, to: d }),
            Some((a, b)) => {
                let (from, to) = (day(a)?, day(b)?);
                if from.is_none() && to.is_none() {
                    return Err("an interval needs at least one end".to_string());
                }
                if let (Some(f), Some(t)) = (from, to)
                    && t < f
                {
                    return Err(format!("the interval ends ({t}) before it starts ({f})"));
                }
                Ok(Period { from, to })
            }
        }
    }

    /// The period as OGC API writes it (`2026-05-01/2026-06-30`, `../2026-06-30`).
    pub fn to_datetime(&self) -> String {
        let end = |d: Option<NaiveDate>| d.map_or("..".to_string(), |d| d.to_string());
        if self.from.is_some() && self.from == self.to { end(self.from) } else { format!("{}/{}", end(self.from), end(self.to)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn instants_and_intervals_are_read_as_ogc_api_writes_them() {
        assert_eq!(Period::parse_datetime("2026-05-01"), Ok(Period::day(d("2026-05-01"))));
        assert_eq!(Period::parse_datetime("2026-05-01T08:30:00Z"), Ok(Period::day(d("2026-05-01"))));
        assert_eq!(Period::parse_datetime("2026-05-01/.."), Ok(Period { from: Some(d("2026-05-01")), to: None }));
        assert_eq!(Period::parse_datetime("/2026-06-30"), Ok(Period { from: None, to: Some(d("2026-06-30")) }));
        for bad in ["", "../..", "2026-13-01", "2026-06-30/2026-05-01", "yesterday", "2026-05-01T25:00:00Z"] {
            assert!(Period::parse_datetime(bad).is_err(), "{bad}");
        }
        assert_eq!(Period { from: None, to: Some(d("2026-06-30")) }.to_datetime(), "../2026-06-30");
    }

    #[test]
    fn a_window_meets_a_period_when_they_share_a_day() {
        let may = Period { from: Some(d("2026-05-01")), to: Some(d("2026-05-31")) };
        assert!(may.meets(d("2026-05-31"), None));
        assert!(may.meets(d("2020-01-01"), Some(d("2026-05-01"))));
        assert!(!may.meets(d("2026-06-01"), None));
        assert!(!may.meets(d("2020-01-01"), Some(d("2026-04-30"))));
    }
}
