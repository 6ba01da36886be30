//! Field-level checks shared by every typed request: short, named errors (`field: reason`)
//! that the HTTP layer turns into 422 `invalid_field`, collected in [`Problems`] so that a
//! request hears of every broken field at once, not one per attempt.

use chrono::{DateTime, Utc};

/// A field that does not hold what it must.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// The field's name (a JSON path such as `title` or `purposes[1].code`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

/// An [`InvalidField`] for `field`.
pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Every broken field of one request, in the order they were found: never empty once
/// returned as an error (see [`Problems::finish`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(Vec<InvalidField>);

impl Problems {
    /// No problem yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a problem.
    pub fn push(&mut self, problem: InvalidField) {
        self.0.push(problem);
    }

    /// The value of a check that passed; notes the problem of one that did not.
    pub fn check<T>(&mut self, result: Result<T, InvalidField>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.push(problem);
                None
            }
        }
    }

    /// `Ok(())` when nothing was noted, else every problem.
    pub fn finish(self) -> Result<(), Problems> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// True when nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, InvalidField> {
        self.0.iter()
    }

    /// The first problem noted.
    pub fn first(&self) -> Option<&InvalidField> {
        self.0.first()
    }

    /// The problems, each field under `root` (`payload` makes `title` `payload.title`).
    pub fn under(&self, root: &str) -> Vec<InvalidField> {
        self.0
            .iter()
            .map(|p| invalid(join(root, &p.field), p.reason.clone()))
            .collect()
    }
}

impl From<InvalidField> for Problems {
    fn from(problem: InvalidField) -> Self {
        Self(vec![problem])
    }
}

impl IntoIterator for Problems {
    type Item = InvalidField;
    type IntoIter = std::vec::IntoIter<InvalidField>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// `path` under `root`: `root.path`, `root[0]...` for an index, `root` alone for an empty
/// path, `path` alone for an empty root.
pub fn join(root: &str, path: &str) -> String {
    match (root.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (false, true) => root.to_owned(),
        (false, false) if path.starts_with('[') => format!("{root}{path}"),
        (false, false) => format!("{root}.{path}"),
    }
}

/// A trimmed, non-empty text of at most `max` characters with no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, InvalidField> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Like [`text`] but newlines and tabs are allowed (descriptions).
pub fn long_text(field: &str, value: &str, max: usize) -> Result<String, InvalidField> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// A SHA-256 digest in hex (64 characters, either case).
pub fn sha256_hex(field: &str, value: &str) -> Result<[u8; 32], InvalidField> {
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            field,
            "must be a SHA-256 digest: 64 hexadecimal characters",
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in value.as_bytes().chunks(2).enumerate() {
        // Both bytes are ASCII hex digits, checked above.
        let hi = (pair[0] as char).to_digit(16).unwrap_or(0) as u8;
        let lo = (pair[1] as char).to_digit(16).unwrap_or(0) as u8;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// An ISO 8601 duration, `PnYnMnWnDTnHnMnS`: at least one part, parts in that order, whole
/// numbers of at most nine digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Weeks.
    pub weeks: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
    /// Minutes.
    pub minutes: u32,
    /// Seconds.
    pub seconds: u32,
}

impl IsoDuration {
    /// Parses the text form; `None` if it is not one.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix('P')?;
        let (date, time) = match rest.split_once('T') {
            Some((_, "")) => return None,
            Some((d, t)) => (d, Some(t)),
            None => (rest, None),
        };
        /// Reads `s`'s parts into `out` (one slot per unit); how many there were.
        fn parts(s: &str, units: &[u8], out: &mut [&mut u32]) -> Option<usize> {
            let mut digits = String::new();
            let mut next_unit = 0;
            let mut count = 0;
            for b in s.bytes() {
                if b.is_ascii_digit() {
                    digits.push(b as char);
                    if digits.len() > 9 {
                        return None;
                    }
                } else {
                    let at = units[next_unit..].iter().position(|&u| u == b)? + next_unit;
                    if digits.is_empty() {
                        return None;
                    }
                    *out[at] = digits.parse().ok()?;
                    digits.clear();
                    next_unit = at + 1;
                    count += 1;
                }
            }
            digits.is_empty().then_some(count)
        }
        let mut d = Self::default();
        let mut count = parts(
            date,
            b"YMWD",
            &mut [&mut d.years, &mut d.months, &mut d.weeks, &mut d.days],
        )?;
        if let Some(t) = time {
            let n = parts(
                t,
                b"HMS",
                &mut [&mut d.hours, &mut d.minutes, &mut d.seconds],
            )?;
            if n == 0 {
                return None;
            }
            count += n;
        }
        (count > 0).then_some(d)
    }

    /// True when every part is zero.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// `start` plus this duration (calendar months and years, then days, then time); `None`
    /// past the representable range.
    pub fn after(&self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months = u64::from(self.years) * 12 + u64::from(self.months);
        let t = start.checked_add_months(chrono::Months::new(u32::try_from(months).ok()?))?;
        let days = u64::from(self.weeks) * 7 + u64::from(self.days);
        let seconds =
            u64::from(self.hours) * 3600 + u64::from(self.minutes) * 60 + u64::from(self.seconds);
        t.checked_add_signed(chrono::TimeDelta::try_days(i64::try_from(days).ok()?)?)?
            .checked_add_signed(chrono::TimeDelta::try_seconds(
                i64::try_from(seconds).ok()?,
            )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse_and_add() {
        let d = IsoDuration::parse("P1Y2M3W4DT5H6M7S").unwrap();
        assert_eq!(
            d,
            IsoDuration {
                years: 1,
                months: 2,
                weeks: 3,
                days: 4,
                hours: 5,
                minutes: 6,
                seconds: 7
            }
        );
        let start = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let plus = |s: &str| {
            IsoDuration::parse(s)
                .unwrap()
                .after(start)
                .unwrap()
                .to_rfc3339()
        };
        assert_eq!(plus("P1M"), "2026-02-28T00:00:00+00:00");
        assert_eq!(plus("P1Y"), "2027-01-31T00:00:00+00:00");
        assert_eq!(plus("P2WT1H"), "2026-02-14T01:00:00+00:00");
        assert!(IsoDuration::parse("P0D").unwrap().is_zero());
        for bad in [
            "",
            "P",
            "PT",
            "10Y",
            "P1H",
            "PY",
            "P1Y1Y",
            "PM1Y",
            "P1DT",
            "P1.5Y",
            "P1234567890Y",
            "P1YT",
            "p1y",
        ] {
            assert!(IsoDuration::parse(bad).is_none(), "{bad}");
        }
        assert!(IsoDuration::parse("P999999999Y")
            .unwrap()
            .after(start)
            .is_none());
    }

    #[test]
    fn hex_round_trips() {
        let d = [0xab_u8; 32];
        assert_eq!(sha256_hex("x", &hex(&d)).unwrap(), d);
        assert_eq!(sha256_hex("x", &hex(&d).to_uppercase()).unwrap(), d);
        assert!(sha256_hex("x", &"g".repeat(64)).is_err());
        assert!(sha256_hex("x", "abcd").is_err());
    }

    #[test]
    fn texts_are_checked() {
        assert_eq!(text("t", "  a b ", 3).unwrap(), "a b");
        assert!(text("t", "   ", 3).is_err());
        assert!(text("t", "abcd", 3).is_err());
        assert!(text("t", "a\nb", 3).is_err());
        assert_eq!(long_text("d", "a\nb", 3).unwrap(), "a\nb");
        assert!(long_text("d", "a\u{1b}b", 3).is_err());
    }
}
