//! Contact preferences: "no calls please, email is fine", "WhatsApp only", "llamada no, mejor por
//! WhatsApp" become the brief's `contact_preference`: the channels the customer asked for and
//! those they refused, with the phrase and the turn. Phrases live in
//! `contact_preferences.yaml` in the vocabulary folder, so sales ops extend them.

use std::collections::BTreeMap;
use std::path::Path;

use aho_corasick::AhoCorasick;
use anyhow::Context;
use handoffd_contract::brief::ContactPreference;
use handoffd_contract::conversation::{Speaker, Turn};
use regex::Regex;
use serde::Deserialize;

use super::text::{fold, shorten};

const FILE: &str = "contact_preferences.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhrasesFile {
    channels: BTreeMap<String, Vec<String>>,
    avoid: Vec<String>,
    prefer: Vec<String>,
}

/// One compiled phrase: the regex and the channel it names.
#[derive(Debug)]
struct Phrase {
    channel: String,
    regex: Regex,
    /// For a `{channel}` phrase, the channel's index in [`ContactPhrases::channel_words`]:
    /// its regex cannot match a text that names none of the channel's words.
    needs_channel: Option<usize>,
    /// The phrase's own words (indexes into [`ContactPhrases::words`]): each is a substring of
    /// any text its regex matches.
    needs_words: Vec<usize>,
}

/// The compiled phrases.
#[derive(Debug, Default)]
pub struct ContactPhrases {
    avoid: Vec<Phrase>,
    prefer: Vec<Phrase>,
    /// Per channel, the first word of each of its names (folded; indexes into `words`): a text
    /// holding none of them as a substring names the channel in no phrase. Most turns name no
    /// channel, and over two hundred regexes would otherwise each read every turn; these
    /// necessary conditions are checked first, and the regex alone decides.
    channel_words: Vec<Vec<usize>>,
    /// Every word the conditions above name, once.
    words: Vec<String>,
    /// All of `words` in one automaton: which of them a turn holds is one pass over it (each
    /// looked up by `str::contains` was a pass per word and phrase).
    word_finder: Option<AhoCorasick>,
}

impl ContactPhrases {
    /// Read `contact_preferences.yaml` from `dir`; a folder without it detects nothing.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ContactPhrases::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        };
        let file: PhrasesFile = serde_saphyr::from_str(&text)
            .with_context(|| format!("`{}` is not a contact phrase file", path.display()))?;
        let mut words: Vec<String> = Vec::new();
        let mut word_id = |word: &str| match words.iter().position(|w| w == word) {
            Some(id) => id,
            None => {
                words.push(word.to_owned());
                words.len() - 1
            }
        };
        let channel_words = file
            .channels
            .values()
            .map(|names| names.iter().filter_map(|w| fold(w).split(' ').next().map(&mut word_id)).collect())
            .collect();
        let mut compile = |templates: &[String]| -> anyhow::Result<Vec<Phrase>> {
            let mut out = Vec::new();
            for template in templates {
                anyhow::ensure!(template.contains("{channel}") || !template.is_empty(), "empty phrase in `{FILE}`");
                let needs_words: Vec<usize> = fold(template)
                    .replace("{channel}", " ")
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(&mut word_id)
                    .collect();
                for (index, (channel, words)) in file.channels.iter().enumerate() {
                    let names: Vec<String> = words.iter().map(|w| regex::escape(&fold(w))).collect();
                    let alternatives = format!("(?:{})", names.join("|"));
                    let body =
                        regex::escape(&fold(template)).replace(r"\{channel\}", &alternatives).replace(' ', r"\s+");
                    let regex = Regex::new(&format!(r"(?:^|[^\w']){body}(?:$|[^\w])"))
                        .with_context(|| format!("`{FILE}`: phrase `{template}`"))?;
                    out.push(Phrase {
                        channel: channel.clone(),
                        regex,
                        needs_channel: template.contains("{channel}").then_some(index),
                        needs_words: needs_words.clone(),
                    });
                    if !template.contains("{channel}") {
                        break;
                    }
                }
            }
            Ok(out)
        };
        let (avoid, prefer) = (compile(&file.avoid)?, compile(&file.prefer)?);
        let word_finder = AhoCorasick::new(&words).with_context(|| format!("`{FILE}`: the phrases' words"))?;
        Ok(ContactPhrases { avoid, prefer, channel_words, words, word_finder: Some(word_finder) })
    }

    /// The customer's preference, from every customer turn (a later turn adds to the earlier).
    pub fn find(&self, turns: &[Turn]) -> Option<ContactPreference> {
        let folded: Vec<String> = turns.iter().map(|t| fold(&t.text)).collect();
        self.find_folded(turns, &folded)
    }

    /// [`Self::find`] of turns already folded (`folded[i]` is `turns[i]`'s text, folded).
    pub fn find_folded(&self, turns: &[Turn], folded: &[impl AsRef<str>]) -> Option<ContactPreference> {
        let mut found: Option<ContactPreference> = None;
        for (index, turn) in turns.iter().enumerate().filter(|(_, t)| t.from == Speaker::Customer) {
            let text = folded[index].as_ref();
            // Which of the words the text holds as substrings (overlapping matches: every one).
            let mut held = vec![false; self.words.len()];
            if let Some(finder) = &self.word_finder {
                for found in finder.find_overlapping_iter(text) {
                    held[found.pattern().as_usize()] = true;
                }
            }
            let named: Vec<bool> = self.channel_words.iter().map(|words| words.iter().any(|w| held[*w])).collect();
            let matches = |p: &Phrase| {
                p.needs_channel.is_none_or(|c| named[c])
                    && p.needs_words.iter().all(|w| held[*w])
                    && p.regex.is_match(text)
            };
            let avoid: Vec<&Phrase> = self.avoid.iter().filter(|p| matches(p)).collect();
            let prefer: Vec<&Phrase> =
                self.prefer.iter().filter(|p| matches(p) && !avoid.iter().any(|a| a.channel == p.channel)).collect();
            if avoid.is_empty() && prefer.is_empty() {
                continue;
            }
            let pref = found.get_or_insert_with(|| ContactPreference {
                channels: Vec::new(),
                avoid: Vec::new(),
                evidence: String::new(),
                turn: Some(index),
            });
            for p in avoid {
                pref.channels.retain(|c| c != &p.channel);
                if !pref.avoid.contains(&p.channel) {
                    pref.avoid.push(p.channel.clone());
                }
            }
            for p in prefer {
                pref.avoid.retain(|c| c != &p.channel);
                if !pref.channels.contains(&p.channel) {
                    pref.channels.push(p.channel.clone());
                }
            }
            pref.evidence = shorten(&turn.text, 80);
            pref.turn = Some(index);
        }
        found.filter(|p| !p.channels.is_empty() || !p.avoid.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrases() -> ContactPhrases {
        ContactPhrases::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary")).unwrap()
    }

    fn customer(texts: &[&str]) -> Vec<Turn> {
        texts
            .iter()
            .map(|t| {
                serde_json::from_value(serde_json::json!({"at": "2026-06-09T18:00:00Z", "from": "customer", "text": t}))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn refused_and_wanted_channels_in_each_language() {
        let p = phrases();
        let found = p.find(&customer(&["Thanks. No calls please, email is fine."])).unwrap();
        assert_eq!((found.channels, found.avoid), (vec!["email".to_owned()], vec!["call".to_owned()]));
        let found = p.find(&customer(&["WhatsApp only"])).unwrap();
        assert_eq!(found.channels, vec!["whatsapp"]);
        let found = p.find(&customer(&["Por favor no me llamen, solo por WhatsApp"])).unwrap();
        assert_eq!((found.channels, found.avoid), (vec!["whatsapp".to_owned()], vec!["call".to_owned()]));
        let found = p.find(&customer(&["call mat karo, whatsapp pe bhej do"])).unwrap();
        assert_eq!((found.channels, found.avoid), (vec!["whatsapp".to_owned()], vec!["call".to_owned()]));
        let found = p.find(&customer(&["Não me ligue, prefiro email"])).unwrap();
        assert_eq!((found.channels, found.avoid), (vec!["email".to_owned()], vec!["call".to_owned()]));
        assert_eq!(found.turn, Some(0));
    }

    #[test]
    fn plain_requests_are_no_preference() {
        let p = phrases();
        assert_eq!(p.find(&customer(&["Please call me tomorrow morning", "what is the price?"])), None);
        assert_eq!(p.find(&customer(&["I got your email yesterday"])), None);
    }
}
