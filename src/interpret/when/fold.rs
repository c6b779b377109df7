//! Text folding for matching: lowercase ASCII with accents stripped, one output byte per input
//! character, so a match in the folded text maps straight back to the customer's own words.

/// Folded text plus the byte offset in the original of each folded byte.
pub(crate) struct Folded {
    pub text: String,
    /// `origin[i]` is the original byte offset of folded byte `i`; one extra entry for the end.
    origin: Vec<usize>,
}

impl Folded {
    pub fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len() + 1);
        for (at, c) in original.char_indices() {
            text.push(fold_char(c));
            origin.push(at);
        }
        origin.push(original.len());
        Folded { text, origin }
    }

    /// The original text behind folded bytes `start..end`.
    pub fn original<'a>(&self, original: &'a str, start: usize, end: usize) -> &'a str {
        &original[self.origin[start]..self.origin[end]]
    }
}

/// Folds a vocabulary phrase the same way as the text it is matched against.
pub(crate) fn fold(phrase: &str) -> String {
    let folded: String = phrase.chars().map(fold_char).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Maps one character to one ASCII character: letters lose their accents, anything else that
/// is not ASCII becomes a space (it cannot be part of a time expression).
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if let Some(base) = crate::interpret::text::latin_base(c) {
        return base;
    }
    match c {
        '’' | '‘' | 'ʼ' => '\'',
        '–' | '—' => '-',
        _ => ' ',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_one_byte_per_char_and_maps_back() {
        let original = "El Martes por la MAÑANA 🙏 às 9h";
        let folded = Folded::new(original);
        assert_eq!(folded.text, "el martes por la manana   as 9h");
        let start = folded.text.find("manana").unwrap();
        assert_eq!(folded.original(original, start, start + 6), "MAÑANA");
        let start = folded.text.find("as 9h").unwrap();
        assert_eq!(folded.original(original, start, folded.text.len()), "às 9h");
    }

    #[test]
    fn phrases_fold_and_collapse_spaces() {
        assert_eq!(fold("Próxima   Semana"), "proxima semana");
    }
}
