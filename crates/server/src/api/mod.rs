pub mod audit;
pub mod firm_settings;
pub mod health;
pub mod invitations;
pub mod me;
pub mod sign_in;
pub mod users;
