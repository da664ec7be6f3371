//! Validity periods: `time::OffsetDateTime` in, `x509_cert::time::Validity` out.
//!
//! RFC 5280 4.1.2.5: "CAs conforming to this profile MUST always encode certificate validity
//! dates through the year 2049 as UTCTime; certificate validity dates in 2050 or later MUST be
//! encoded as GeneralizedTime." `Time::from(DateTime)` picks UTCTime when it can (years up to
//! 2049) and GeneralizedTime otherwise, and x509-cert's RFC 5280 profile re-applies the same
//! rule when encoding; the tests below check the bytes.

use std::time::Duration;

use der::DateTime;
use time::OffsetDateTime;
use x509_cert::time::{Time, Validity};

use super::error::X509Error;

/// Convert a point in time to an X.509 `Time`, dropping sub-second precision (RFC 5280
/// 4.1.2.5.1/2: seconds, no fractional seconds). Dates before 1970 or after 9999 are refused.
pub fn to_x509_time(t: OffsetDateTime, field: &str) -> Result<Time, X509Error> {
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| X509Error::invalid(field, "must not be before 1970-01-01"))?;
    let dt = DateTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|_| X509Error::invalid(field, "must be before year 10000"))?;
    Ok(Time::from(dt))
}

/// The point in time an X.509 `Time` denotes.
pub fn from_x509_time(t: &Time) -> OffsetDateTime {
    let secs = t.to_unix_duration().as_secs();
    // DateTime is bounded to years 1970..=9999, which always fits an OffsetDateTime.
    OffsetDateTime::from_unix_timestamp(secs as i64).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A validated validity window (notBefore strictly before notAfter).
pub fn validity(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Validity, X509Error> {
    let nb = to_x509_time(not_before, "notBefore")?;
    let na = to_x509_time(not_after, "notAfter")?;
    if nb.to_unix_duration() >= na.to_unix_duration() {
        return Err(X509Error::invalid(
            "notAfter",
            "must be later than notBefore",
        ));
    }
    Ok(Validity::new(nb, na))
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;
    use time::macros::datetime;

    #[test]
    fn utc_time_through_2049_generalized_from_2050() {
        let v = validity(
            datetime!(2049-12-31 23:59:59.9 UTC),
            datetime!(2050-01-01 00:00:00 UTC),
        )
        .unwrap();
        assert!(matches!(v.not_before, Time::UtcTime(_)));
        assert!(matches!(v.not_after, Time::GeneralTime(_)));
        let der = v.to_der().unwrap();
        assert_eq!(der[2], 0x17, "UTCTime tag");
        assert_eq!(&der[4..17], b"491231235959Z");
        assert_eq!(der[17], 0x18, "GeneralizedTime tag");
        assert_eq!(&der[19..34], b"20500101000000Z");
        assert_eq!(
            from_x509_time(&v.not_after),
            datetime!(2050-01-01 00:00:00 UTC)
        );
    }

    #[test]
    fn order_and_range_enforced() {
        let t = datetime!(2030-01-01 00:00:00 UTC);
        assert_eq!(validity(t, t).unwrap_err().field(), Some("notAfter"));
        assert!(validity(datetime!(1960-01-01 0:00 UTC), t).is_err());
    }
}
