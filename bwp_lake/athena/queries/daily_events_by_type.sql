-- User events per report day and event type: events and distinct browsers (ubid)
SELECT
    report_date,
    event_type,
    count(*) AS events,
    count(DISTINCT ubid) AS distinct_ubids
FROM user_events
GROUP BY report_date, event_type
ORDER BY report_date, event_type
