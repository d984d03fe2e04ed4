-- Fees per store, report day, fee type and currency: fee lines, fee amount, tax, discounts and credits
SELECT
    store,
    report_date,
    fee_type,
    currency_code,
    count(*) AS fee_lines,
    sum(fee_amount) AS fee_amount,
    sum(fee_tax_amount) AS fee_tax_amount,
    sum(fee_discounts_amount) AS fee_discounts_amount,
    sum(fee_credits_amount) AS fee_credits_amount
FROM order_fees
GROUP BY store, report_date, fee_type, currency_code
ORDER BY store, report_date, fee_type, currency_code
