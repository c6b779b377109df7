//! The conversation's language, from the customer's own turns: which of the vocabulary's languages (`en`,
//! `hi` for Hindi and Hinglish, `es`, `pt`) their function words belong to. Routing rules match it
//! (`when.language`) and owners list the languages they speak.
//!
//! A score of distinctive stop words, not a model: one pass over the text, a lookup a word, so it costs
//! nothing next to the vocabulary scan. Words two languages share (`de`, `que`, `para` in Spanish and
//! Portuguese; `me`, `to`, `do` in English and Hinglish) count for neither. Hinglish borrows English words
//! freely ("please call me kal"), while an English speaker seldom writes "mujhe" or "chahiye": a Hindi
//! function word weighs twice an English one. Devanagari letters are Hindi; `ñ`, `¿`, `¡` Spanish;
//! `ã`, `õ`, `ç` Portuguese.

use std::collections::HashMap;
use std::sync::LazyLock;

use handoffd_contract::conversation::{Speaker, Turn};

use super::text::WordHash;

/// The codes, as the vocabulary's folders and owners' `languages` name them.
const EN: usize = 0;
const HI: usize = 1;
const ES: usize = 2;
const PT: usize = 3;
const CODES: [&str; 4] = ["en", "hi", "es", "pt"];
/// Points a word of each language is worth (Hindi function words are strong evidence, see above).
const WEIGHT: [u32; 4] = [1, 2, 1, 1];
/// Fewer points than this on the best language: too little text to tell.
const MIN_SCORE: u32 = 2;

const ENGLISH: &[&str] = &[
    "i",
    "i'm",
    "im",
    "i'd",
    "i'll",
    "you",
    "your",
    "the",
    "an",
    "is",
    "are",
    "am",
    "was",
    "were",
    "be",
    "of",
    "and",
    "for",
    "in",
    "on",
    "at",
    "with",
    "this",
    "that",
    "it",
    "it's",
    "my",
    "please",
    "want",
    "need",
    "would",
    "could",
    "can",
    "will",
    "not",
    "don't",
    "dont",
    "what",
    "when",
    "how",
    "about",
    "tomorrow",
    "today",
    "morning",
    "evening",
    "thanks",
    "thank",
    "hello",
    "yes",
    "looking",
    "interested",
    "just",
    "there",
    "we",
    "our",
    "have",
    "has",
    "any",
    "if",
    "or",
    "but",
    "get",
    "let",
    "know",
    "after",
    "before",
    "should",
    "which",
    "where",
    "they",
    "them",
    "from",
    "been",
    "some",
    "more",
    "than",
    "then",
    "only",
    "also",
    "very",
    "still",
    "sure",
];

const HINDI: &[&str] = &[
    "hai", "hain", "ka", "ki", "ke", "ko", "mein", "mujhe", "mujhko", "kya", "nahi", "nahin", "nhi", "aap", "aapko",
    "aapka", "hum", "humko", "hume", "humein", "chahiye", "karo", "karna", "karein", "kariye", "kar", "kal", "aaj",
    "abhi", "bhi", "tha", "thi", "raha", "rahi", "rahe", "wala", "wali", "wale", "liye", "ek", "haan", "ji", "kab",
    "kaise", "kitna", "kitne", "kitni", "mera", "meri", "mere", "apna", "apni", "yeh", "ye", "woh", "wo", "toh",
    "lekin", "aur", "sab", "baat", "batao", "bataiye", "bata", "chahte", "chahta", "chahti", "sakte", "sakta", "sakti",
    "dijiye", "kijiye", "jaldi", "accha", "acha", "theek", "thik", "matlab", "hoga", "hogi", "karenge", "karunga",
    "sakenge", "bolo", "boliye", "kuch", "koi", "jab", "tab", "agar", "phir", "fir", "waha", "yaha", "wahan", "yahan",
    "dekhna", "dekhne", "milega", "milegi", "chalega", "bhai", "bhaiya", "shaam", "subah", "dopahar", "parso",
];

const SPANISH: &[&str] = &[
    "el",
    "la",
    "los",
    "las",
    "en",
    "y",
    "con",
    "un",
    "una",
    "es",
    "lo",
    "del",
    "al",
    "yo",
    "quiero",
    "necesito",
    "mañana",
    "manana",
    "hoy",
    "gracias",
    "hola",
    "llamar",
    "llame",
    "llamen",
    "llamada",
    "puede",
    "pueden",
    "usted",
    "pero",
    "cuando",
    "muy",
    "sí",
    "también",
    "tambien",
    "ahora",
    "después",
    "despues",
    "noche",
    "bueno",
    "estoy",
    "tengo",
    "mi",
    "su",
    "qué",
    "cómo",
    "hay",
    "nuestro",
    "ustedes",
    "quisiera",
    "gustaría",
    "gustaria",
    "visitar",
    "semana",
    "pueda",
    "tiene",
    "están",
    "estan",
    "ya",
    "porque",
    "entonces",
    "le",
];

const PORTUGUESE: &[&str] = &[
    "o",
    "os",
    "um",
    "uma",
    "da",
    "das",
    "dos",
    "em",
    "não",
    "nao",
    "sim",
    "obrigado",
    "obrigada",
    "oi",
    "você",
    "voce",
    "vocês",
    "voces",
    "quero",
    "preciso",
    "amanhã",
    "amanha",
    "hoje",
    "muito",
    "quando",
    "ligar",
    "ligue",
    "liguem",
    "ligação",
    "ligacao",
    "pode",
    "podem",
    "com",
    "meu",
    "minha",
    "isso",
    "isto",
    "também",
    "gostaria",
    "estou",
    "vou",
    "eu",
    "seu",
    "sua",
    "agora",
    "depois",
    "noite",
    "ele",
    "ela",
    "ao",
    "pra",
    "tá",
    "então",
    "entao",
    "porque",
    "nós",
    "nos",
    "tem",
    "visitar",
    "semana",
    "já",
    "ja",
    "e",
    "mas",
    "fazer",
    "favor",
];

/// Word -> the language it points to (the lists are disjoint: a word in two would point to neither).
static WORDS: LazyLock<HashMap<&'static str, usize, WordHash>> = LazyLock::new(|| {
    let mut words = HashMap::with_hasher(WordHash);
    let mut shared = Vec::new();
    for (language, list) in [(EN, ENGLISH), (HI, HINDI), (ES, SPANISH), (PT, PORTUGUESE)] {
        for word in list {
            if words.insert(*word, language).is_some_and(|other| other != language) {
                shared.push(*word);
            }
        }
    }
    for word in shared {
        words.remove(word);
    }
    words
});

/// The customer's language in `turns` (their own turns only), or `None` when their words do not tell.
pub fn detect(turns: &[Turn]) -> Option<String> {
    let mut score = [0u32; 4];
    let mut word = String::new();
    for turn in turns.iter().filter(|t| t.from == Speaker::Customer) {
        for c in turn.text.chars().chain(std::iter::once(' ')) {
            match c {
                '\u{0900}'..='\u{097F}' => {
                    // Devanagari: Hindi, a word at a time (at its first letter).
                    if word.is_empty() {
                        score[HI] += WEIGHT[HI];
                    }
                    word.push('\u{0900}');
                }
                'ñ' | 'Ñ' | '¿' | '¡' => {
                    score[ES] += 1;
                    word.extend(c.to_lowercase());
                }
                'ã' | 'õ' | 'ç' | 'Ã' | 'Õ' | 'Ç' => {
                    score[PT] += 1;
                    word.extend(c.to_lowercase());
                }
                c if c.is_alphanumeric() || c == '\'' || c == '’' => {
                    word.extend(c.to_lowercase().map(|c| if c == '’' { '\'' } else { c }));
                }
                _ => {
                    if let Some(&language) = WORDS.get(word.trim_matches('\'')) {
                        score[language] += WEIGHT[language];
                    }
                    word.clear();
                }
            }
        }
    }
    let (best, &top) = score.iter().enumerate().max_by_key(|(i, s)| (**s, std::cmp::Reverse(*i)))?;
    let runner_up = score.iter().enumerate().filter(|(i, _)| *i != best).map(|(_, s)| *s).max().unwrap_or(0);
    (top >= MIN_SCORE && top > runner_up).then(|| CODES[best].to_owned())
}

/// Whether a configured language code (`when.language`, an owner's `languages`) names `language`: the
/// primary subtag decides (`hi-Latn` and `hi` are one), and `hinglish` is Hindi.
pub fn same_language(configured: &str, language: &str) -> bool {
    let primary = |code: &str| {
        let code = code.trim().to_ascii_lowercase();
        match code.split(['-', '_']).next().unwrap_or_default() {
            "hinglish" => "hi".to_owned(),
            primary => primary.to_owned(),
        }
    };
    primary(configured) == primary(language)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn customer(texts: &[&str]) -> Vec<Turn> {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00+05:30").unwrap();
        texts.iter().map(|text| Turn { at, from: Speaker::Customer, text: (*text).to_owned() }).collect()
    }

    fn language(texts: &[&str]) -> Option<String> {
        detect(&customer(texts))
    }

    #[test]
    fn english_sentences() {
        assert_eq!(
            language(&["Hi, I'm looking for a 2BHK in Baner. Can you call me tomorrow morning?"]).as_deref(),
            Some("en")
        );
        assert_eq!(
            language(&["What is the price of the 3BHK?", "Please send the brochure on WhatsApp"]).as_deref(),
            Some("en")
        );
        assert_eq!(language(&["Not interested anymore, thanks"]).as_deref(), Some("en"));
    }

    #[test]
    fn hinglish_is_hindi_even_with_english_words_in_it() {
        assert_eq!(language(&["Mujhe Baner me 2BHK flat chahiye, kal call karo please"]).as_deref(), Some("hi"));
        assert_eq!(language(&["Price kya hai? Budget 80 lakh tak hai"]).as_deref(), Some("hi"));
        assert_eq!(language(&["Haan ji, site visit ke liye Saturday ko aa sakte hain"]).as_deref(), Some("hi"));
        assert_eq!(language(&["मुझे कल शाम को कॉल कीजिए"]).as_deref(), Some("hi"), "Devanagari");
    }

    #[test]
    fn english_with_an_indian_place_name_stays_english() {
        assert_eq!(
            language(&["I want to book a site visit at Hinjewadi this Saturday, is the sample flat ready?"]).as_deref(),
            Some("en")
        );
    }

    #[test]
    fn spanish_and_portuguese_apart() {
        assert_eq!(
            language(&["Hola, quiero información sobre el departamento. ¿Me pueden llamar mañana?"]).as_deref(),
            Some("es")
        );
        assert_eq!(language(&["Necesito una cita para ver la casa con mi esposa"]).as_deref(), Some("es"));
        assert_eq!(
            language(&["Oi, quero saber o preço do apartamento. Vocês podem me ligar amanhã?"]).as_deref(),
            Some("pt")
        );
        assert_eq!(language(&["Não tenho interesse agora, obrigado"]).as_deref(), Some("pt"));
    }

    #[test]
    fn too_little_or_only_the_agents_words_tell_nothing() {
        assert_eq!(language(&["ok"]), None);
        assert_eq!(language(&["+919820012345"]), None);
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00+05:30").unwrap();
        let agent =
            vec![Turn { at, from: Speaker::Ai, text: "Hello! How can I help you with your home search today?".into() }];
        assert_eq!(detect(&agent), None, "the AI's English is not the customer's language");
    }

    #[test]
    fn configured_codes_match_by_their_primary_subtag() {
        assert!(same_language("hi-Latn", "hi"));
        assert!(same_language("Hinglish", "hi"));
        assert!(same_language("EN", "en"));
        assert!(!same_language("es", "pt"));
    }
}
