fn main() {
    println!("t3sim");
}
