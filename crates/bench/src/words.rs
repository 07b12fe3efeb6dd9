//! Deterministic text for the seeded firm: a small pseudo-random generator and a vocabulary
//! drawn with Zipf frequencies, so search queries meet rare, middling and common words the
//! way they do in real prose. Same seed, same firm: runs compare like with like.

/// SplitMix64: not for secrets, only for repeatable test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias does not matter here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

const SYLLABLES: [&str; 40] = [
    "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "fa", "gu", "ho", "ji", "be", "vo", "za", "ce",
    "du", "ge", "ha", "ki", "la", "mo", "nu", "pe", "qui", "ro", "si", "to", "ve", "wa", "xe", "yo", "zu",
    "bra", "cro", "dre", "fli", "glo", "pra",
];

/// Words ranked by frequency, and the cumulative Zipf weights to draw them with.
pub struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    /// `size` distinct three-syllable words (at most 64,000), word `k` drawn with weight 1/(k+1).
    pub fn new(size: usize) -> Self {
        let n = SYLLABLES.len();
        let words: Vec<String> = (0..size.min(n * n * n))
            .map(|i| {
                format!("{}{}{}", SYLLABLES[i % n], SYLLABLES[(i / n) % n], SYLLABLES[(i / (n * n)) % n])
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0);
                total
            })
            .collect();
        Self { words, cumulative }
    }

    pub fn word(&self, rank: usize) -> &str {
        self.words.get(rank).or(self.words.last()).map_or("", String::as_str)
    }

    pub fn draw(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        let rank = self.cumulative.partition_point(|&c| c < target);
        self.word(rank)
    }

    /// `count` words drawn at random, joined by spaces.
    pub fn sentence(&self, rng: &mut Rng, count: usize) -> String {
        let mut text = String::new();
        for i in 0..count {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.draw(rng));
        }
        text
    }

    /// Keyword queries over the whole range of frequencies: one or two words, from the most
    /// common to words only a few dozen notes hold.
    pub fn queries(&self, count: usize) -> Vec<String> {
        let ranks = [2, 7, 20, 60, 150, 400, 900, 2000, 3500, 4900];
        (0..count)
            .map(|i| {
                let first = ranks[i % ranks.len()];
                if i % 2 == 1 {
                    format!("{} {}", self.word(first), self.word(ranks[(i / 2) % 4]))
                } else {
                    self.word(first).to_owned()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_searchable() {
        let vocabulary = Vocabulary::new(5000);
        let unique: std::collections::BTreeSet<&str> = (0..5000).map(|k| vocabulary.word(k)).collect();
        assert_eq!(unique.len(), 5000);
        assert!(unique.iter().all(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_lowercase())));
    }

    #[test]
    fn common_words_are_drawn_more_often() {
        let vocabulary = Vocabulary::new(5000);
        let mut rng = Rng::new(7);
        let draws: Vec<&str> = (0..20_000).map(|_| vocabulary.draw(&mut rng)).collect();
        let count = |w: &str| draws.iter().filter(|d| **d == w).count();
        assert!(count(vocabulary.word(0)) > 10 * count(vocabulary.word(100)).max(1));
    }
}
