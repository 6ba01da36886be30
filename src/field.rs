//! Field-level checks shared by every typed request: short, named errors (`field: reason`)
//! that the HTTP layer turns into 422 `invalid_field`.

/// A field that does not hold what it must.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// The field's name (a JSON path such as `payload.title`).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// An [`InvalidField`] for `field`.
pub fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        reason: reason.into(),
    }
}

/// A trimmed, non-empty text of at most `max` characters with no control characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, InvalidField> {
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
pub fn long_text(field: &'static str, value: &str, max: usize) -> Result<String, InvalidField> {
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
pub fn sha256_hex(field: &'static str, value: &str) -> Result<[u8; 32], InvalidField> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
