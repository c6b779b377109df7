//! Text as the rules read it: lower-cased, accents folded, typographic quotes made plain, with
//! a map back to the original so evidence is quoted as the customer wrote it.

/// A turn's text folded for matching.
#[derive(Debug)]
pub struct Folded<'a> {
    pub original: &'a str,
    /// Lower-cased, accent-folded text: what the vocabulary's patterns match.
    pub text: String,
    /// For each byte of `text` (plus one past the end), the byte offset in `original` of the
    /// character it came from.
    origin: Vec<u32>,
}

impl<'a> Folded<'a> {
    pub fn new(original: &'a str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len() + 1);
        for (offset, c) in original.char_indices() {
            let before = text.len();
            push_folded(c, &mut text);
            if text.len() == before + 1 {
                // One byte, as every ASCII character folds to: no resize call per character.
                origin.push(offset as u32);
            } else {
                origin.resize(origin.len() + (text.len() - before), offset as u32);
            }
        }
        origin.push(original.len() as u32);
        Folded { original, text, origin }
    }

    /// The original text behind folded byte range `start..end`.
    pub fn original_span(&self, start: usize, end: usize) -> &'a str {
        let from = self.origin[start] as usize;
        let mut to = self.origin[end] as usize;
        // `end` may sit inside a character that folded to several bytes: include all of it.
        if end > start && self.origin[end - 1] as usize >= to {
            to = self.original[self.origin[end - 1] as usize..]
                .char_indices()
                .nth(1)
                .map_or(self.original.len(), |(i, _)| self.origin[end - 1] as usize + i);
        }
        &self.original[from..to]
    }
}

impl AsRef<str> for Folded<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// A set of words looked up at every word of a turn (negation and contrast words).
pub type WordSet = std::collections::HashSet<String, WordHash>;

/// FNV-1a for word lookups: the standard library's SipHash is keyed against an attacker who
/// chooses the keys inserted, but these tables are filled from the vocabulary alone, and the
/// hashing cost more than the lookup it served (a lookup finds the same entry either way).
#[derive(Debug, Clone, Copy, Default)]
pub struct WordHash;

impl std::hash::BuildHasher for WordHash {
    type Hasher = WordHasher;
    fn build_hasher(&self) -> WordHasher {
        WordHasher(0xcbf2_9ce4_8422_2325)
    }
}

/// The state of [`WordHash`].
#[derive(Debug, Clone, Copy)]
pub struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        // FNV's multiplications carry low bits upward only: fold the high half into the low
        // half (the table's bucket index) too.
        self.0 ^ self.0.rotate_left(32)
    }
}

/// The base letter of an accented Latin letter (lower case), for the languages we ship.
pub fn latin_base(c: char) -> Option<char> {
    Some(match c {
        'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ç' | 'Ç' => 'c',
        'ñ' | 'Ñ' => 'n',
        _ => return None,
    })
}

/// Fold one character: lower case, strip the accents of Latin letters, plain quotes.
#[inline]
pub fn push_folded(c: char, out: &mut String) {
    // Most text is ASCII: its own lower case, but for the backquote (below).
    if c.is_ascii() {
        out.push(if c == '`' { '\'' } else { c.to_ascii_lowercase() });
        return;
    }
    if let Some(base) = latin_base(c) {
        out.push(base);
        return;
    }
    let folded = match c {
        '’' | '‘' | '`' | '´' => '\'',
        '“' | '”' => '"',
        '¿' | '¡' => ' ',
        '\u{a0}' => ' ',
        c if c.is_ascii() => c.to_ascii_lowercase(),
        c => {
            for lower in c.to_lowercase() {
                out.push(lower);
            }
            return;
        }
    };
    out.push(folded);
}

/// Fold a whole string (used for vocabulary patterns, so authors may write accents).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(c, &mut out);
    }
    out
}

/// Characters that end a clause: negation does not reach across them.
pub fn is_clause_break(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | ';' | ',' | ':' | '\n' | '(' | ')')
}

/// Characters that end a sentence.
pub fn is_sentence_break(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '\n')
}

/// The words (letters, digits, apostrophes) of `text`, in order.
pub fn words(text: &str) -> impl DoubleEndedIterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|w| !w.is_empty())
}

/// The clause of `text` that ends at byte `at` (from the previous clause break).
pub fn clause_before(text: &str, at: usize) -> &str {
    let head = &text[..at];
    let start = head.rfind(is_clause_break).map_or(0, |i| i + 1);
    &head[start..]
}

/// The clause of `text` that starts at byte `at` (to the next clause break).
pub fn clause_after(text: &str, at: usize) -> &str {
    let tail = &text[at..];
    let end = tail.find(is_clause_break).unwrap_or(tail.len());
    &tail[..end]
}

/// The rest of the sentence after byte `at`.
pub fn sentence_after(text: &str, at: usize) -> &str {
    let tail = &text[at..];
    // A decimal point ("1.2 crore") does not end a sentence.
    let bytes = tail.as_bytes();
    let mut end = tail.len();
    for (i, c) in tail.char_indices() {
        if is_sentence_break(c) {
            let digit_after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(c == '.' && digit_after) {
                end = i;
                break;
            }
        }
    }
    &tail[..end]
}

/// The sentence of `original` around byte range `start..end`, trimmed, at most `max` chars.
pub fn sentence_around(original: &str, start: usize, end: usize, max: usize) -> String {
    let head = &original[..start];
    let from = head
        .char_indices()
        .rev()
        .find(|&(i, c)| is_sentence_break(c) && !head[i + c.len_utf8()..].starts_with(|d: char| d.is_ascii_digit()))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let tail = &original[end..];
    let to = end + tail.find(['.', '!', '?', '\n']).map_or(tail.len(), |i| i + 1);
    shorten(original[from..to].trim(), max)
}

/// At most `max` characters, cut at a word and marked with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_maps_back_to_the_original() {
        let folded = Folded::new("Não tenho INTERESSE, São Paulo");
        assert_eq!(folded.text, "nao tenho interesse, sao paulo");
        let start = folded.text.find("sao").unwrap();
        assert_eq!(folded.original_span(start, start + 9), "São Paulo");
        let start = folded.text.find("nao").unwrap();
        assert_eq!(folded.original_span(start, start + 3), "Não");
    }

    #[test]
    fn clauses_stop_at_punctuation() {
        let text = "no, i want it. price is not an issue";
        assert_eq!(clause_before(text, text.find("want").unwrap()), " i ");
        assert_eq!(sentence_after("1.2 crore. next", 0), "1.2 crore");
    }

    #[test]
    fn shorten_cuts_at_a_word() {
        assert_eq!(shorten("one two three four five six", 14), "one two three…");
        assert_eq!(shorten("short", 10), "short");
    }
}
