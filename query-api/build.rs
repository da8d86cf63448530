// `sqlx::migrate!` embeds `migrations/` at compile time; rebuild when a migration is added or
// changed (the macro alone does not tell cargo on stable Rust).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
