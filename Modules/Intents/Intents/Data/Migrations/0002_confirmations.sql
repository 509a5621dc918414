-- One confirmation or cancel at a time per intent (IPaymentIntentConfirmations). A confirmation marks the intent with
-- its transaction id, and the card it brings, before the acquirer is called; a cancel marks it with its own id while it
-- checks that no payment of the intent exists. Either is refused while another's mark holds, so a cancel can no longer
-- answer CANCELED while a confirmation charges the card. A mark lapses at confirming_until (a Host that crashed).
ALTER TABLE intents.payment_intents
    ADD COLUMN confirming_id         text COLLATE "C",
    ADD COLUMN confirming_card_token text,
    ADD COLUMN confirming_until      timestamptz,
    ADD CHECK ((confirming_id IS NULL) = (confirming_until IS NULL));
