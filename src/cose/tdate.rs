//! Dates: `tdate` (RFC 8949 tag 0 over an RFC 3339 date-time) and `full-date` (RFC 8943 tag
//! 1004 over an RFC 3339 full-date).
//!
//! ISO/IEC 18013-5 9.1.2.4: the timestamps of validityInfo "shall not use fractions of
//! seconds and shall use a UTC offset of 00:00, as indicated by the character 'Z'". Every
//! tdate written here has that one form, `YYYY-MM-DDTHH:MM:SSZ`, and an MSO read from a
//! client must use it too. JSON input may carry any RFC 3339 offset (it is converted to UTC)
//! but no fraction of a second: truncating one would sign a different instant than asked for.

use ciborium::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

use super::CoseError;
use super::cbor::{TAG_FULL_DATE, TAG_TDATE};

/// Parse an RFC 3339 date-time from JSON input, as UTC.
pub fn parse_date_time(field: &str, s: &str) -> Result<OffsetDateTime, CoseError> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        CoseError::invalid(
            field,
            "must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z",
        )
    })?;
    if t.nanosecond() != 0 {
        return Err(CoseError::invalid(
            field,
            "must not have fractions of a second (ISO/IEC 18013-5 9.1.2.4)",
        ));
    }
    let t = t.to_offset(UtcOffset::UTC);
    check_year(field, t.year())?;
    Ok(t)
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn format_tdate(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .expect("a UTC date-time in years 0000-9999 formats")
}

/// `#6.0(tstr)`.
pub(super) fn tdate_value(t: OffsetDateTime) -> Value {
    Value::Tag(TAG_TDATE, Box::new(Value::Text(format_tdate(t))))
}

/// A tdate from CBOR: tag 0 over text in exactly the `YYYY-MM-DDTHH:MM:SSZ` form.
pub(super) fn parse_tdate_value(field: &str, v: &Value) -> Result<OffsetDateTime, CoseError> {
    let Value::Tag(TAG_TDATE, inner) = v else {
        return Err(CoseError::invalid(field, "must be a tdate (tag 0)"));
    };
    let s = inner
        .as_text()
        .ok_or_else(|| CoseError::invalid(field, "must be a tdate (tag 0 over text)"))?;
    let t = parse_date_time(field, s)?;
    if format_tdate(t) != s {
        return Err(CoseError::invalid(
            field,
            "must be in UTC as YYYY-MM-DDTHH:MM:SSZ (ISO/IEC 18013-5 9.1.2.4)",
        ));
    }
    Ok(t)
}

/// Parse `YYYY-MM-DD` (RFC 3339 full-date), nothing more or less.
pub(super) fn parse_full_date(field: &str, s: &str) -> Result<Date, CoseError> {
    let bad = || CoseError::invalid(field, "must be a full-date YYYY-MM-DD (RFC 3339)");
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return Err(bad());
    }
    Date::parse(s, format_description!("[year]-[month]-[day]")).map_err(|_| bad())
}

/// `#6.1004(tstr)` (RFC 8943), the ISO/IEC 18013-5 `full-date`.
pub(super) fn full_date_value(d: Date) -> Value {
    let s = d
        .format(format_description!("[year]-[month]-[day]"))
        .expect("a date in years 0000-9999 formats");
    Value::Tag(TAG_FULL_DATE, Box::new(Value::Text(s)))
}

fn check_year(field: &str, year: i32) -> Result<(), CoseError> {
    if (0..=9999).contains(&year) {
        Ok(())
    } else {
        Err(CoseError::invalid(
            field,
            "must be in the years 0000 to 9999",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn date_times_are_utc_without_fractions() {
        let t = parse_date_time("f", "2026-01-31T14:15:22+02:00").unwrap();
        assert_eq!(t, datetime!(2026-01-31 12:15:22 UTC));
        assert_eq!(format_tdate(t), "2026-01-31T12:15:22Z");
        assert!(parse_date_time("f", "2026-01-31T12:15:22.000Z").is_ok());
        let err = parse_date_time("f", "2026-01-31T12:15:22.5Z").unwrap_err();
        assert!(err.to_string().contains("fractions"));
        for bad in [
            "2026-01-31",
            "2026-01-31 12:15:22",
            "yesterday",
            "2026-02-30T00:00:00Z",
        ] {
            assert_eq!(
                parse_date_time("f", bad).unwrap_err().field(),
                Some("f"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cbor_tdates_have_one_form() {
        let v = tdate_value(datetime!(2020-10-01 13:30:02 UTC));
        assert_eq!(
            parse_tdate_value("f", &v).unwrap(),
            datetime!(2020-10-01 13:30:02 UTC)
        );
        let tag = |s: &str| Value::Tag(0, Box::new(Value::Text(s.into())));
        for bad in [
            tag("2020-10-01T15:30:02+02:00"),
            tag("2020-10-01T13:30:02.0Z"),
            tag("2020-10-01t13:30:02z"),
            Value::Text("2020-10-01T13:30:02Z".into()),
            Value::Tag(1, Box::new(Value::from(1_601_559_002))),
        ] {
            assert!(parse_tdate_value("f", &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn full_dates_are_exactly_yyyy_mm_dd() {
        assert_eq!(
            parse_full_date("f", "2024-02-29").unwrap(),
            date!(2024 - 02 - 29)
        );
        for bad in [
            "2023-02-29",
            "+2024-02-29",
            "2024-2-29",
            "24-02-29",
            "2024-02-29Z",
            "",
        ] {
            assert!(parse_full_date("f", bad).is_err(), "{bad}");
        }
        assert_eq!(
            full_date_value(date!(2024 - 02 - 29)),
            Value::Tag(1004, Box::new(Value::Text("2024-02-29".into())))
        );
    }
}
