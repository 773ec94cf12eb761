SELECT foundation.run_auction('{}', ARRAY[@NAMES@]);
