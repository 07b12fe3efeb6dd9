//! Associated data is a length-prefixed list of parts, so that no two different lists of
//! parts can encode to the same bytes ("ab"+"c" differs from "a"+"bc").

pub(crate) fn encode(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn part_boundaries_are_unambiguous() {
        assert_ne!(super::encode(&[b"ab", b"c"]), super::encode(&[b"a", b"bc"]));
    }
}
