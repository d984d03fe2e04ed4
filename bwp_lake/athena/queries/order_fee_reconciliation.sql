-- Per store and order: Prime order amount, each fee type's total, total fees and the effective Prime service fee rate
WITH per_order AS (
    -- Order ids are the store's own: two stores may use the same one.
    SELECT
        store,
        order_id,
        currency_code,
        min(order_created_at) AS order_created_at,
        -- Set on PrimeServiceFee lines only, and repeated on each of them: max, not sum.
        max(prime_order_amount) FILTER (WHERE fee_type = 'PrimeServiceFee') AS prime_order_amount,
        sum(fee_amount) FILTER (WHERE fee_type = 'PrimeServiceFee') AS prime_service_fee,
        sum(fee_amount) FILTER (WHERE fee_type = 'PrimeFulfillmentFee') AS prime_fulfillment_fee,
        sum(fee_amount) FILTER (WHERE fee_type = 'ApayProcessingFee') AS apay_processing_fee,
        sum(fee_amount) FILTER (WHERE fee_type = 'ApayAuthorizationFee') AS apay_authorization_fee,
        sum(fee_amount) FILTER (WHERE fee_type = 'ApayCrossBorderFee') AS apay_cross_border_fee,
        -- Undocumented or unreadable fee types, so that the fee columns always add up to total_fees.
        sum(fee_amount) FILTER (
            WHERE fee_type IS NULL
            OR fee_type NOT IN (
                'PrimeServiceFee', 'PrimeFulfillmentFee', 'ApayProcessingFee',
                'ApayAuthorizationFee', 'ApayCrossBorderFee'
            )
        ) AS other_fees,
        sum(fee_amount) AS total_fees
    FROM order_fees
    GROUP BY store, order_id, currency_code
)
SELECT
    store,
    order_id,
    currency_code,
    order_created_at,
    prime_order_amount,
    prime_service_fee,
    prime_fulfillment_fee,
    apay_processing_fee,
    apay_authorization_fee,
    apay_cross_border_fee,
    other_fees,
    total_fees,
    -- As double: Trino's decimal division keeps the operands' scale (2), which would round the rate.
    CASE
        WHEN prime_order_amount > 0
        THEN CAST(prime_service_fee AS double) / CAST(prime_order_amount AS double)
    END AS effective_prime_service_fee_rate
FROM per_order
ORDER BY store, order_created_at, order_id
