//! PEM framing (RFC 7468) for certificates and CSRs, with size bounds and "exactly one".

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
pub fn decode_one(input: &[u8], labels: &[&str], what: &'static str) -> Result<Vec<u8>, X509Error> {
    check_size(input, what)?;
    let text =
        std::str::from_utf8(input).map_err(|_| X509Error::malformed(what, "PEM is not UTF-8"))?;
    let text = text.trim();
    const END: &str = "-----END ";
    let end_at = text
        .find(END)
        .ok_or_else(|| X509Error::malformed(what, "no PEM END line"))?;
    let after_end = &text[end_at + END.len()..];
    let close = after_end
        .find("-----")
        .ok_or_else(|| X509Error::malformed(what, "unterminated PEM END line"))?;
    let block_len = end_at + END.len() + close + 5;
    if !text[block_len..].trim().is_empty() {
        return Err(X509Error::malformed(
            what,
            "data after the PEM block (exactly one is expected)",
        ));
    }
    let (label, der) = der::pem::decode_vec(&text.as_bytes()[..block_len])
        .map_err(|e| X509Error::malformed(what, e))?;
    if !labels.contains(&label) {
        return Err(X509Error::malformed(
            what,
            format!("PEM label `{label}`, expected `{}`", labels[0]),
        ));
    }
    Ok(der)
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
        let big = vec![b'-'; MAX_INPUT_LEN + 1];
        assert!(matches!(
            decode_one(&big, &[CERTIFICATE_LABEL], "c"),
            Err(X509Error::TooLarge { .. })
        ));
    }
}
