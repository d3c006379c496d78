//! Virtual My Number card: the JPKI AP and the 券面事項入力補助 AP, sans-I/O
