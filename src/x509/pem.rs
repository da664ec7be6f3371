//! PEM framing (RFC 7468) for certificates and CSRs, with size bounds and "exactly one".

use base64ct::Encoding;
use der::pem::LineEnding;

use super::error::{X509Error, enc};

/// Largest PEM or DER input accepted: real certificates and CSRs are a few KiB; this bounds
/// the work done on hostile input.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

pub const CERTIFICATE_LABEL: &str = "CERTIFICATE";
pub const CSR_LABEL: &str = "CERTIFICATE REQUEST";
/// Written by old Netscape / Java keytool; RFC 7468 section 7 says parsers may accept it.
pub const CSR_LABEL_LEGACY: &str = "NEW CERTIFICATE REQUEST";

pub fn check_size(input: &[u8], what: &'static str) -> Result<(), X509Error> {
    if input.len() > MAX_INPUT_LEN {
        return Err(X509Error::TooLarge {
            what,
            limit: MAX_INPUT_LEN,
        });
    }
    Ok(())
}

/// Whether `input` looks like PEM rather than DER (DER starts with a SEQUENCE tag, 0x30).
pub fn looks_like_pem(input: &[u8]) -> bool {
    input
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'-')
}

/// Decode exactly one PEM block whose label is one of `labels`. Only whitespace may surround
/// it: a second block (a chain where one certificate is expected) is refused, not ignored.
///
/// The body is read as RFC 7468 section 3's "lax" parsers do (and as OpenSSL does): lines may
/// end in CRLF or LF, and the base64 text may be on one line of any length or wrapped at any
/// column; whitespace inside it is ignored. What strict parsers refuse stays refused: a
/// BEGIN/END label mismatch, RFC 1421 encapsulated headers (`Proc-Type:` etc.), characters
/// outside the base64 alphabet, and missing or misplaced padding.
pub fn decode_one(input: &[u8], labels: &[&str], what: &'static str) -> Result<Vec<u8>, X509Error> {
    check_size(input, what)?;
    let text =
        std::str::from_utf8(input).map_err(|_| X509Error::malformed(what, "PEM is not UTF-8"))?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .skip_while(|l| l.trim().is_empty());
    let begin = lines
        .next()
        .ok_or_else(|| X509Error::malformed(what, "no PEM BEGIN line"))?;
    let label = begin
        .trim()
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| X509Error::malformed(what, "no PEM BEGIN line"))?;
    let mut body = String::new();
    let mut ended = false;
    for line in lines.by_ref() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("-----END ") {
            if rest.strip_suffix("-----") != Some(label) {
                return Err(X509Error::malformed(
                    what,
                    "PEM END line does not match its BEGIN line",
                ));
            }
            ended = true;
            break;
        }
        if line.starts_with("-----") {
            return Err(X509Error::malformed(
                what,
                "a PEM BEGIN line inside a block (exactly one is expected)",
            ));
        }
        if line.contains(':') {
            return Err(X509Error::malformed(
                what,
                "PEM encapsulated headers are not supported (RFC 7468 section 2)",
            ));
        }
        body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
    }
    if !ended {
        return Err(X509Error::malformed(what, "no PEM END line"));
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(X509Error::malformed(
            what,
            "data after the PEM block (exactly one is expected)",
        ));
    }
    if !labels.contains(&label) {
        return Err(X509Error::malformed(
            what,
            format!("PEM label `{label}`, expected `{}`", labels[0]),
        ));
    }
    base64ct::Base64::decode_vec(&body)
        .map_err(|_| X509Error::malformed(what, "PEM body is not valid base64 (RFC 4648 4)"))
}

/// PEM with LF line endings and 64-column lines (RFC 7468 section 2).
pub fn encode(label: &str, der: &[u8]) -> Result<String, X509Error> {
    der::pem::encode_string(label, LineEnding::LF, der).map_err(enc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_block_only() {
        let pem = encode(CERTIFICATE_LABEL, &[0x30, 0x00]).unwrap();
        assert_eq!(
            decode_one(pem.as_bytes(), &[CERTIFICATE_LABEL], "c").unwrap(),
            [0x30, 0]
        );
        let padded = format!("\n\n{pem}\n  \n");
        assert!(decode_one(padded.as_bytes(), &[CERTIFICATE_LABEL], "c").is_ok());
        let two = format!("{pem}{pem}");
        assert!(decode_one(two.as_bytes(), &[CERTIFICATE_LABEL], "c").is_err());
        let junk = format!("{pem}junk");
        assert!(decode_one(junk.as_bytes(), &[CERTIFICATE_LABEL], "c").is_err());
        assert!(decode_one(pem.as_bytes(), &[CSR_LABEL], "c").is_err());
        // Trailing junk on the same line as END, a BEGIN inside, mismatched labels.
        let bad_end = pem.replace("CERTIFICATE-----\n", "CERTIFICATE-----x\n");
        assert!(decode_one(bad_end.as_bytes(), &[CERTIFICATE_LABEL], "c").is_err());
        let mismatch = pem.replace("END CERTIFICATE", "END X509 CRL");
        assert!(decode_one(mismatch.as_bytes(), &[CERTIFICATE_LABEL], "c").is_err());
        let nested = two.replacen("-----END CERTIFICATE-----\n", "", 1);
        assert!(decode_one(nested.as_bytes(), &[CERTIFICATE_LABEL], "c").is_err());
        let big = vec![b'-'; MAX_INPUT_LEN + 1];
        assert!(matches!(
            decode_one(&big, &[CERTIFICATE_LABEL], "c"),
            Err(X509Error::TooLarge { .. })
        ));
    }

    /// A certificate long enough to wrap (base64 over several lines).
    fn long_der() -> Vec<u8> {
        let mut der = vec![0x30, 0x81, 0xc8];
        der.extend((0..200u8).map(|i| i.wrapping_mul(37)));
        der
    }

    #[test]
    fn one_line_and_crlf_bodies_are_accepted() {
        let der = long_der();
        let pem = encode(CERTIFICATE_LABEL, &der).unwrap();
        assert!(pem.lines().count() > 3, "{pem}");
        let labels = &[CERTIFICATE_LABEL];
        // CRLF line ends (Windows tools, HTTP form posts).
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(decode_one(crlf.as_bytes(), labels, "c").unwrap(), der);
        // The whole base64 body on one line (what many JSON clients send).
        let b64 = base64ct::Base64::encode_string(&der);
        let one_line = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        assert_eq!(decode_one(one_line.as_bytes(), labels, "c").unwrap(), der);
        let one_line_crlf = one_line.replace('\n', "\r\n");
        assert_eq!(
            decode_one(one_line_crlf.as_bytes(), labels, "c").unwrap(),
            der
        );
        // Wrapped at 76 columns (RFC 2045 MIME style), indented, trailing spaces.
        let wrapped: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("  {} ", std::str::from_utf8(c).unwrap()))
            .collect();
        let mime = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
            wrapped.join("\n")
        );
        assert_eq!(decode_one(mime.as_bytes(), labels, "c").unwrap(), der);
        // Still exactly one: two one-line blocks, or a CRLF chain, are refused.
        let two = format!("{one_line}{one_line}");
        assert!(decode_one(two.as_bytes(), labels, "c").is_err());
        let two_crlf = format!("{crlf}{crlf}");
        assert!(decode_one(two_crlf.as_bytes(), labels, "c").is_err());
        // Not base64, bad padding, encapsulated headers.
        let bad = one_line.replace(&b64[..4], "!!!!");
        assert!(decode_one(bad.as_bytes(), labels, "c").is_err());
        let unpadded = one_line.replace('=', "");
        if unpadded != one_line {
            assert!(decode_one(unpadded.as_bytes(), labels, "c").is_err());
        }
        let headers = one_line.replace(
            "-----BEGIN CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n",
        );
        assert!(decode_one(headers.as_bytes(), labels, "c").is_err());
    }
}
