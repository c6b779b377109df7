//! How long the mock takes to answer each vendor request: a real CRM portal answers in a few hundred
//! milliseconds, and a deliverer with too few calls in flight is only slow against that.

use std::fmt;
use std::time::Duration;

use rand::Rng;

/// Every vendor request waits a time drawn evenly from `min..=max` before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerDelay {
    pub min: Duration,
    pub max: Duration,
}

/// An answer delay that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid answer delay `{text}`: {reason}; expected a duration (`400ms`) or a range (`300ms-500ms`)")]
pub struct AnswerDelayError {
    text: String,
    reason: String,
}

impl AnswerDelay {
    /// The same wait for every request.
    pub fn fixed(delay: Duration) -> Self {
        Self { min: delay, max: delay }
    }

    /// Reads `400ms` or `300ms-500ms` (`300-500ms` too: a bare lower bound takes the upper bound's unit).
    pub fn parse(text: &str) -> Result<Self, AnswerDelayError> {
        let error = |reason: String| AnswerDelayError { text: text.to_owned(), reason };
        let duration = |part: &str| humantime::parse_duration(part.trim()).map_err(|e| error(e.to_string()));
        let Some((low, high)) = text.trim().split_once('-') else { return duration(text).map(Self::fixed) };
        let max = duration(high)?;
        let low = low.trim();
        let min = if low.chars().all(|c| c.is_ascii_digit()) && !low.is_empty() {
            let unit: String = high.trim().chars().skip_while(|c| c.is_ascii_digit() || *c == '.').collect();
            duration(&format!("{low}{unit}"))?
        } else {
            duration(low)?
        };
        if min > max {
            return Err(error(format!("the lower bound {min:?} exceeds the upper bound {max:?}")));
        }
        Ok(Self { min, max })
    }

    /// Waits one request's time (`None`: answers at once). Every mock takes its answer time through here.
    pub async fn wait(delay: Option<Self>) {
        if let Some(delay) = delay {
            tokio::time::sleep(delay.draw()).await;
        }
    }

    /// One request's wait.
    pub fn draw(&self) -> Duration {
        if self.min == self.max {
            return self.min;
        }
        let (min, max) = (self.min.as_micros() as u64, self.max.as_micros() as u64);
        Duration::from_micros(rand::rng().random_range(min..=max))
    }
}

impl fmt::Display for AnswerDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", humantime::format_duration(self.min), humantime::format_duration(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_single_durations_parse() {
        let ms = Duration::from_millis;
        assert_eq!(AnswerDelay::parse("300ms-500ms"), Ok(AnswerDelay { min: ms(300), max: ms(500) }));
        assert_eq!(AnswerDelay::parse("300-500ms"), Ok(AnswerDelay { min: ms(300), max: ms(500) }));
        assert_eq!(AnswerDelay::parse(" 400ms "), Ok(AnswerDelay::fixed(ms(400))));
        assert!(AnswerDelay::parse("500ms-300ms").is_err());
        assert!(AnswerDelay::parse("soon").is_err());
    }

    #[test]
    fn draws_stay_in_the_range() {
        let delay = AnswerDelay::parse("300ms-500ms").expect("a range");
        for _ in 0..200 {
            let drawn = delay.draw();
            assert!((delay.min..=delay.max).contains(&drawn), "{drawn:?}");
        }
    }
}
