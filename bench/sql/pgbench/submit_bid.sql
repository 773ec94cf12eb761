\set ag :client_id + 1
SELECT foundation.submit_bid(:aid, 'ag' || :ag, random() * 1000);
