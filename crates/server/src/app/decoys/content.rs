//! What a decoy matter holds: a client, a title, notes and documents put together at random
//! from pieces of ordinary commercial work, so that each firm's decoys differ and read like
//! the firm's own. Nothing in them is any real person's or company's information.

use ringfence_store::firm::clients::ClientFields;

use crate::app::AppError;

const NAMES: &[&str] = &[
    "Abernethy",
    "Bosch",
    "Castellan",
    "Dlamini",
    "Everard",
    "Fairbairn",
    "Greyling",
    "Hartigan",
    "Ivanov",
    "Jansen",
    "Kirkwood",
    "Lindqvist",
    "Mahlangu",
    "Naidoo",
    "Oosthuizen",
    "Pemberton",
    "Quayle",
    "Rossouw",
    "Steyn",
    "Thackeray",
    "Umbers",
    "Vermaak",
    "Whitcombe",
    "Yardley",
];
const FORMS: &[&str] =
    &["(Pty) Ltd", "Ltd", "Inc.", "Holdings", "Group", "Trust", "& Partners", "SA (Pty) Ltd"];
const TRADES: &[&str] = &[
    "Holdings",
    "Logistics",
    "Mining",
    "Properties",
    "Engineering",
    "Pharmaceuticals",
    "Capital",
    "Agri",
    "Construction",
    "Shipping",
    "Foods",
    "Energy",
];
const DISPUTES: &[(&str, &str)] = &[
    ("Acquisition of the", "share purchase"),
    ("Breach of supply agreement with", "supply agreement"),
    ("Restraint of trade: former director of", "restraint"),
    ("Insolvency enquiry into", "insolvency"),
    ("Competition Commission investigation of", "competition"),
    ("Arbitration against", "arbitration"),
];
const AMOUNTS: &[&str] = &["R 4.2 million", "R 11.8 million", "R 760 000", "R 2.35 million", "R 27 million"];

/// Random picks, from the operating system's generator.
struct Dice(Vec<u8>, usize);

impl Dice {
    fn new() -> Result<Self, AppError> {
        let mut bytes = vec![0; 128];
        getrandom::fill(&mut bytes).map_err(|e| AppError::internal(std::io::Error::other(e.to_string())))?;
        Ok(Self(bytes, 0))
    }

    fn roll(&mut self) -> u16 {
        let (high, low) = (self.0[self.1 % self.0.len()], self.0[(self.1 + 1) % self.0.len()]);
        self.1 += 2;
        u16::from_be_bytes([high, low])
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[usize::from(self.roll()) % from.len()]
    }

    /// A number from `low` to `high`, both included.
    fn between(&mut self, low: u16, high: u16) -> u16 {
        low + self.roll() % (high - low + 1)
    }

    /// `count` of `from`'s items, each once, in a random order.
    fn some<T: Clone>(&mut self, from: &[T], count: usize) -> Vec<T> {
        let mut left = from.to_vec();
        let mut chosen = Vec::with_capacity(count);
        while chosen.len() < count && !left.is_empty() {
            let at = usize::from(self.roll()) % left.len();
            chosen.push(left.swap_remove(at));
        }
        chosen
    }
}

/// How many days ago a decoy user's record says it joined the firm.
pub fn joined_days_ago() -> Result<u16, AppError> {
    Ok(Dice::new()?.between(90, 900))
}

/// A decoy matter's content.
pub struct Story {
    pub client: String,
    pub title: String,
    pub description: String,
    /// (kind, privileged, body).
    pub notes: Vec<(&'static str, bool, String)>,
    /// (title, file name, text).
    pub documents: Vec<(String, String, String)>,
    /// How many days ago the matter was opened: a decoy is not all made on the day it is
    /// planted, which a copy of the database would show.
    pub opened_days_ago: u16,
    /// Days after its opening that each note and document was written, in their order.
    pub written_days_after: Vec<u16>,
}

impl Story {
    pub fn invent() -> Result<Self, AppError> {
        let mut dice = Dice::new()?;
        let client = format!("{} {} {}", dice.pick(NAMES), dice.pick(TRADES), dice.pick(FORMS));
        let opponent = format!("{} {}", dice.pick(NAMES), dice.pick(TRADES));
        let (heading, topic) = *dice.pick(DISPUTES);
        let amount = *dice.pick(AMOUNTS);
        let counsel = format!("Adv. {}", dice.pick(NAMES));
        let witness = format!("Mr {}", dice.pick(NAMES));
        let title = format!("{heading} {opponent}");
        let description = format!(
            "Confidential. Acting for {client} in the {topic} matter with {opponent}. Exposure estimated at {amount}."
        );
        let notes = vec![
            (
                "strategy",
                true,
                format!(
                    "Settlement authority from the board: up to {amount}. Do not disclose to {opponent}'s attorneys before the pre-trial conference. {counsel} advises that our position on the {topic} point is weaker than the client believes."
                ),
            ),
            (
                "communication",
                true,
                format!(
                    "Call with the client's CFO: they have found emails showing {witness} knew of the problem in March. Client asks whether these must be discovered. Advised that they must; client unhappy."
                ),
            ),
            (
                "statement",
                false,
                format!(
                    "Consultation with {witness}, former financial manager of {client}. Confirms the figures in the board pack were revised twice before signature. Willing to testify but concerned about his restraint."
                ),
            ),
        ];
        let notes_kept = usize::from(dice.between(2, 3));
        let notes = dice.some(&notes, notes_kept);
        let documents = vec![
            (
                format!("Opinion of {counsel} on prospects"),
                "Opinion on prospects - privileged.txt".to_owned(),
                format!(
                    "PRIVILEGED AND CONFIDENTIAL\n\nOPINION\n\n{client} / {opponent}\n\n1. I am asked to advise on the prospects of success in the {topic} dispute.\n2. On the documents I have seen, the prospects are in the region of 40 per cent.\n3. The evidence of {witness} is central and must be secured early.\n4. I recommend that the client consider settlement below {amount}.\n\n{counsel}\nChambers\n"
                ),
            ),
            (
                "Draft settlement proposal".to_owned(),
                "Settlement proposal - draft 3.txt".to_owned(),
                format!(
                    "WITHOUT PREJUDICE\n\nDRAFT 3 - NOT FOR CIRCULATION\n\nProposal by {client} to {opponent}\n\nIn full and final settlement of all claims arising from the {topic} matter, {client} offers payment of an amount to be agreed, not exceeding {amount}, against a mutual release and a confidentiality undertaking.\n"
                ),
            ),
        ];
        let documents_kept = usize::from(dice.between(1, 2));
        let documents = dice.some(&documents, documents_kept);
        let opened_days_ago = dice.between(30, 240);
        let mut written_days_after: Vec<u16> =
            (0..notes.len() + documents.len()).map(|_| dice.between(1, 25)).collect();
        written_days_after.sort_unstable();
        Ok(Self { client, title, description, notes, documents, opened_days_ago, written_days_after })
    }

    pub fn client_fields(&self) -> ClientFields<'_> {
        ClientFields {
            kind: "organisation",
            name: &self.client,
            email: None,
            phone: None,
            address: None,
            id_number: None,
        }
    }
}
