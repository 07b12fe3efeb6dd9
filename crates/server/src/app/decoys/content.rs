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
        let mut bytes = vec![0; 64];
        getrandom::fill(&mut bytes).map_err(|e| AppError::internal(std::io::Error::other(e.to_string())))?;
        Ok(Self(bytes, 0))
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        let byte = self.0[self.1 % self.0.len()];
        self.1 += 1;
        &from[usize::from(byte) % from.len()]
    }
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
}

impl Story {
    pub fn invent() -> Result<Self, AppError> {
        let mut dice = Dice::new()?;
        let client = format!("{} {} (Pty) Ltd", dice.pick(NAMES), dice.pick(TRADES));
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
        Ok(Self { client, title, description, notes, documents })
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
