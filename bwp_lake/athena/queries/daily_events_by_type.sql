-- User events per store, report day and event type: events and distinct browsers (ubid)
SELECT
    store,
    report_date,
    event_type,
    count(*) AS events,
    count(DISTINCT ubid) AS distinct_ubids
FROM user_events
GROUP BY store, report_date, event_type
ORDER BY store, report_date, event_type
