-- Stores a request's answer with its change, or fails the change: a claim taken over by another request (its lease
-- ended) matches no row, and the error aborts the transaction the completion rides in. Raising here rather than
-- checking the row count in C# lets a slice send its change, the answer and the commit in one batch (an implicit
-- transaction), with nothing to decide between the statements and the commit (issue 17).
CREATE FUNCTION idempotency.complete(p_merchant_id text, p_key text, p_lease uuid, p_status int, p_headers jsonb,
                                     p_body bytea, p_at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency.requests
       SET state = 'completed', response_status = p_status, response_headers = p_headers, response_body = p_body,
           completed_at = p_at
     WHERE merchant_id = p_merchant_id AND idem_key = p_key AND lease_token = p_lease AND state = 'in_progress';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The idempotency claim was taken over by another request.' USING ERRCODE = 'IL001';
    END IF;
END $$;
