//! HTTP answers written as text for the targets that read them (`provider_answer`,
//! `device_answer`): status line, header lines, empty line, body.

/// Header names and values, as they came.
pub type Headers<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The status, headers (one space after the colon dropped) and body of an answer; `None`
/// when the status is not three digits.
pub fn split_answer(data: &[u8]) -> Option<(u16, Headers<'_>, &[u8])> {
    let mut rest = data;
    let mut line = || -> Option<&[u8]> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let (line, after) = rest.split_at(end);
        rest = &after[1..];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    };
    let status = std::str::from_utf8(line()?)
        .ok()?
        .trim()
        .parse::<u16>()
        .ok()?;
    // What an HTTP client can receive: three digits.
    if !(100..=999).contains(&status) {
        return None;
    }
    let mut headers = Vec::new();
    while let Some(header) = line() {
        if header.is_empty() {
            break;
        }
        if let Some(colon) = header.iter().position(|&b| b == b':') {
            let value = &header[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            headers.push((&header[..colon], value));
        }
    }
    Some((status, headers, rest))
}
