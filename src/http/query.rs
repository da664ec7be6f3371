//! Query-string parsing: pagination (`limit`, `cursor`) and filters, with unknown parameters
//! rejected like unknown body fields.

use base64ct::{Base64UrlUnpadded, Encoding};

use super::ApiError;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

fn bad(param: &str, msg: &str, value: Option<&str>) -> ApiError {
    ApiError::new(
        crate::api::ErrorCode::ValidationError,
        "Query parameters are not valid",
    )
    .with_detail(
        "query",
        param,
        msg,
        value.map(|v| v.chars().take(64).collect()),
    )
}

/// Decode `a=1&b=2` with percent-decoding, refusing parameters not in `allowed` and
/// repeated ones.
pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok(out);
    };
    if q.len() > 4096 {
        return Err(bad("query", "query string too long", None));
    }
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k).ok_or_else(|| bad("query", "invalid percent-encoding", None))?;
        let v = decode(v).ok_or_else(|| bad(&k, "invalid percent-encoding", None))?;
        if !allowed.contains(&k.as_str()) {
            return Err(bad(&k, "unknown query parameter", None));
        }
        if out.iter().any(|(x, _)| *x == k) {
            return Err(bad(&k, "parameter given more than once", None));
        }
        out.push((k, v));
    }
    Ok(out)
}

pub(super) fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let h = bytes.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `limit` in 1..=1000 (default 100) and the position after which the page starts.
pub fn page(params: &[(String, String)]) -> Result<(usize, i64), ApiError> {
    let limit = match get(params, "limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(bad("limit", "must be an integer from 1 to 1000", Some(v))),
        },
    };
    let after = match get(params, "cursor") {
        None => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| bad("cursor", "invalid cursor", Some(c)))?,
    };
    Ok((limit, after))
}

/// Cursors are opaque to clients: a versioned position, base64url-encoded.
pub fn encode_cursor(pos: i64) -> String {
    Base64UrlUnpadded::encode_string(format!("v1:{pos}").as_bytes())
}

fn decode_cursor(c: &str) -> Option<i64> {
    if c.len() > 64 {
        return None;
    }
    let raw = Base64UrlUnpadded::decode_vec(c).ok()?;
    let s = std::str::from_utf8(&raw).ok()?;
    s.strip_prefix("v1:")?
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_parameters() {
        let p = parse(
            Some("limit=7&cursor=".to_owned().as_str()),
            &["limit", "cursor"],
        );
        assert!(p.is_ok());
        let p = parse(
            Some(&format!("limit=7&cursor={}", encode_cursor(42))),
            &["limit", "cursor"],
        )
        .unwrap();
        assert_eq!(page(&p).unwrap(), (7, 42));
        for bad_q in [
            "limit=0",
            "limit=1001",
            "limit=x",
            "cursor=zz",
            "limit=1&limit=2",
            "other=1",
        ] {
            let r = parse(Some(bad_q), &["limit", "cursor"]).and_then(|p| page(&p));
            assert!(r.is_err(), "{bad_q}");
        }
        assert_eq!(page(&[]).unwrap(), (100, 0));
    }
}
