-- Fees per store and day as the curated table held them 24 hours ago beside what it holds now, for each day a restatement since changed (edit the interval to look further back)
WITH as_was AS (
    SELECT
        store,
        dt,
        count(*) AS fee_lines,
        sum(fee_amount) AS fee_amount
    FROM order_fees_curated FOR TIMESTAMP AS OF (current_timestamp - INTERVAL '1' DAY)
    GROUP BY store, dt
),
as_is AS (
    SELECT
        store,
        dt,
        count(*) AS fee_lines,
        sum(fee_amount) AS fee_amount
    FROM order_fees
    GROUP BY store, dt
)
SELECT
    store,
    dt,
    as_was.fee_lines AS fee_lines_before,
    as_is.fee_lines AS fee_lines_now,
    as_was.fee_amount AS fee_amount_before,
    as_is.fee_amount AS fee_amount_now
FROM as_was
JOIN as_is USING (store, dt)
WHERE as_was.fee_lines <> as_is.fee_lines OR as_was.fee_amount IS DISTINCT FROM as_is.fee_amount
ORDER BY store, dt
