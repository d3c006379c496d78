//! ISO/IEC 7816-4 command and response APDU codec, typed status words, masking Debug
