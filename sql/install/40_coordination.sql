------------------------------------------------------------------------------
-- Multi-agent coordination (after MABEAM of the Elixir library): agents, orchestration
-- variables, auctions, consensus, negotiation.
------------------------------------------------------------------------------
CREATE TABLE foundation.agents (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    module        text,
    args          jsonb NOT NULL DEFAULT '{}',
    capabilities  text[] NOT NULL DEFAULT '{}',
    protocols     text[] NOT NULL DEFAULT '{}',
    strategy      text NOT NULL DEFAULT 'singleton' CHECK (strategy IN ('singleton', 'replicated')),
    resources     jsonb NOT NULL DEFAULT '{}',
    handler       regprocedure,
    owner         regrole NOT NULL,
    status        text NOT NULL DEFAULT 'registered',
    pid           integer,
    registered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
COMMENT ON TABLE foundation.agents IS
  'Coordination agents (MABEAM AgentRegistry). seq is the registration order, which breaks auction ties. Each role sees its own rows (args may hold secrets); foundation.agent_directory shows every agent without args.';
ALTER TABLE foundation.agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_agents ON foundation.agents FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
GRANT SELECT ON foundation.agents TO PUBLIC;
-- pg_dump keeps agents, variables, auctions with their sealed bids and
-- proposals with their votes, and the sequences of their ids (so that new
-- ids follow the restored ones, and seq keeps breaking ties in the same
-- order); docs/backup.md.  Owners go by name (regrole); a row whose owner
-- was dropped (DROP ROLE leaves it) would dump as a bare OID, so it stays
-- out, and so do the bids and votes of such an auction or proposal.
SELECT pg_catalog.pg_extension_config_dump('foundation.agents',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.agents_seq_seq', '');
-- What every role may know of the others' agents (to invite them to an
-- auction or a vote): all but args.  The view reads the table as its owner,
-- so row-level security does not hide other roles' rows here.
CREATE VIEW foundation.agent_directory AS
  SELECT name, module, capabilities, protocols, strategy, resources, handler,
         owner, status, pid, registered_at, seq
    FROM foundation.agents;
COMMENT ON VIEW foundation.agent_directory IS
  'Every agent, without its args (which only its owner reads in foundation.agents).';
GRANT SELECT ON foundation.agent_directory TO PUBLIC;

-- Executable by PUBLIC: register_agent (a SQL function, run as the caller)
-- is only this, with config unpacked; it checks everything itself.
CREATE FUNCTION foundation._register_agent(name text, module text, args jsonb,
    capabilities text[], protocols text[], strategy text, resources jsonb, handler regprocedure)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_register_agent';
REVOKE ALL ON FUNCTION foundation._register_agent(text, text, jsonb, text[], text[], text, jsonb, regprocedure) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION foundation._register_agent(text, text, jsonb, text[], text[], text, jsonb, regprocedure) TO PUBLIC;

CREATE FUNCTION foundation.register_agent(name text, config jsonb) RETURNS void
    LANGUAGE sql VOLATILE
    BEGIN ATOMIC
      SELECT foundation._register_agent(name, config->>'module', coalesce(config->'args', '{}'),
        coalesce(ARRAY(SELECT jsonb_array_elements_text(config->'capabilities')), '{}'),
        coalesce(ARRAY(SELECT jsonb_array_elements_text(config->'protocols')), '{}'),
        coalesce(config->>'strategy', 'singleton'), coalesce(config->'resources', '{}'),
        (config->>'handler')::regprocedure);
    END;
COMMENT ON FUNCTION foundation.register_agent(text, jsonb) IS
  'AgentRegistry.register_agent: config {module, args, capabilities, protocols, strategy, resources, handler}. Equivalent to INSERT INTO foundation.agents ... after validation.';

CREATE FUNCTION foundation.start_coordination_agent(module text, args jsonb, name text DEFAULT NULL,
    capabilities text[] DEFAULT '{}', protocols text[] DEFAULT '{}', strategy text DEFAULT 'singleton',
    resources jsonb DEFAULT '{}', handler regprocedure DEFAULT NULL) RETURNS integer
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_start_coordination_agent';
COMMENT ON FUNCTION foundation.start_coordination_agent(text, jsonb, text, text[], text[], text, jsonb, regprocedure) IS
  'Validate, register and start an agent; returns its pid (NULL for a handler-only agent). Equivalent to: SELECT foundation.register_agent(name, config); SELECT foundation.start_singleton(module, args, name) -- start_replicated for strategy replicated.';

CREATE TABLE foundation.orchestration_variables (
    id              text NOT NULL,
    type            text NOT NULL,
    agents          text[] NOT NULL,
    constraints     jsonb NOT NULL DEFAULT '{}',
    coordination_fn regprocedure,
    owner           regrole NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_result     jsonb,
    PRIMARY KEY (owner, id)
);
COMMENT ON TABLE foundation.orchestration_variables IS
  'Orchestration variables, each role''s own: ids are scoped by owner, and a role sees only its own rows.';
ALTER TABLE foundation.orchestration_variables ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_variables ON foundation.orchestration_variables FOR SELECT
    USING (owner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user));
GRANT SELECT ON foundation.orchestration_variables TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('foundation.orchestration_variables',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');

CREATE FUNCTION foundation.register_orchestration_variable(variable jsonb) RETURNS text
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_register_orchestration_variable';
COMMENT ON FUNCTION foundation.register_orchestration_variable(jsonb) IS
  'MABEAM.Core.register_orchestration_variable: {id, type (auction, consensus, negotiation, custom), agents, constraints (an object), coordination_fn}; returns the id. Ids are the calling role''s own: registering an id again replaces that role''s variable.';

CREATE FUNCTION foundation.run_custom_protocol(spec jsonb, agents text[], context jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_run_custom_protocol';
COMMENT ON FUNCTION foundation.run_custom_protocol(jsonb, text[], jsonb) IS
  'Run spec.coordination_fn(agents, spec, context) with the built-in protocols'' agent validation, recording (spec.variable_id) and broadcast (protocol_completed on events).';

CREATE FUNCTION foundation.coordinate(variable_id text, context jsonb DEFAULT '{}') RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_coordinate';
COMMENT ON FUNCTION foundation.coordinate(text, jsonb) IS
  'Run the calling role''s variable''s coordination_fn (as that role, restricted), or the built-in protocol of its type (auction: run_auction; consensus: coordinate_consensus), and record the result on it.';

CREATE TABLE foundation.auctions (
    auction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spec       jsonb NOT NULL,
    agents     text[] NOT NULL,
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    owner      regrole NOT NULL,
    opened_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deadline   timestamptz,
    closed_at  timestamptz,
    result     jsonb
);
GRANT SELECT ON foundation.auctions TO PUBLIC;
-- One row per invited agent, written when the auction opens (ord: its place
-- in the invitation); bid and submitted_at stay NULL until it bids.  Only
-- foundation's functions write it, always for an auction they hold locked
-- or just created; no foreign key, whose per-row check was a quarter of
-- run_auction's time (docs/benchmarks.md, benchmark 11).
CREATE TABLE foundation.bids (
    auction_id   bigint NOT NULL,
    agent        text NOT NULL,
    ord          integer NOT NULL,
    bid          double precision,
    priority     double precision NOT NULL DEFAULT 0,
    details      jsonb NOT NULL DEFAULT '{}',
    error        text,
    submitted_at timestamptz,
    PRIMARY KEY (auction_id, agent)
);
SELECT pg_catalog.pg_extension_config_dump('foundation.auctions',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.auctions_auction_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('foundation.bids',
  'WHERE auction_id IN (SELECT auction_id FROM foundation.auctions'
  ' WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles))');
-- Each backend remembers which auctions are open and who owns an agent,
-- for submit_bid; whatever changes either table invalidates every
-- backend's copy once it commits.
CREATE FUNCTION foundation._bid_cache_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'fdn_bid_cache_changed';
REVOKE ALL ON FUNCTION foundation._bid_cache_changed() FROM PUBLIC;
CREATE TRIGGER bid_cache_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON foundation.auctions
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._bid_cache_changed();
CREATE TRIGGER bid_cache_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON foundation.agents
    FOR EACH STATEMENT EXECUTE FUNCTION foundation._bid_cache_changed();

CREATE TABLE foundation.proposals (
    proposal_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal       jsonb NOT NULL,
    agents         text[] NOT NULL,
    consensus_type text NOT NULL,
    required_votes integer NOT NULL,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    owner          regrole NOT NULL,
    opened_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    deadline       timestamptz,
    closed_at      timestamptz,
    result         jsonb
);
GRANT SELECT ON foundation.proposals TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('foundation.proposals',
  'WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles)');
SELECT pg_catalog.pg_extension_config_dump('foundation.proposals_proposal_id_seq', '');

CREATE FUNCTION foundation.run_auction(spec jsonb, agents text[], context jsonb DEFAULT '{}')
    RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_run_auction_sql';
COMMENT ON FUNCTION foundation.run_auction(jsonb, text[], jsonb) IS
  'Sealed-bid auction now: each agent''s handler(agent, ''bid_for_resources'', {resources, context}) bids; highest valid bid at or above the reserve wins (ties: priority, then registration order); first_price pays its bid, second_price the second-highest valid bid (a single bid pays itself), never less than the reserve. Stored in foundation.auctions/bids, broadcast on events at commit.';

CREATE FUNCTION foundation.coordinate_consensus(agent_ids text[], proposal jsonb,
    consensus_type text DEFAULT 'majority', timeout_ms integer DEFAULT 15000,
    required_votes integer DEFAULT NULL) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_coordinate_consensus';
COMMENT ON FUNCTION foundation.coordinate_consensus(text[], jsonb, text, integer, integer) IS
  'Ask every agent''s handler(agent, ''vote'', {proposal, consensus_type}); majority: yes > half; supermajority: yes >= two thirds; unanimous: all yes; quorum: yes > no; fewer valid votes than required_votes (default: every agent) is no_quorum.';

CREATE FUNCTION foundation.negotiate(initiator text, responder text, issue jsonb,
    max_rounds integer DEFAULT 10) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_negotiate';
COMMENT ON FUNCTION foundation.negotiate(text, text, jsonb, integer) IS
  'Alternating offers: the initiator''s handler answers ''propose'' with {offer}; the other answers ''respond'' with {accept: true} or {counter}; turns alternate until agreement or max_rounds.';

CREATE FUNCTION foundation.coordinate_resource_allocation(agent_ids text[], resources jsonb)
    RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_coordinate_resource_allocation';
COMMENT ON FUNCTION foundation.coordinate_resource_allocation(text[], jsonb) IS
  'Resource allocation by auction in one call. Equivalent to: SELECT foundation.register_orchestration_variable(''{"id": "resource_allocation", "type": "auction", "agents": [...], "constraints": {"total_resources": resources, "max_allocation_time": 30000}}''); SELECT foundation.run_auction(''{"type": "sealed_bid", "resources": resources, "payment_rule": "second_price"}'', agent_ids).';

-- Auctions and proposals across transactions.  Bids and votes are sealed:
-- no role but the extension's owner reads these tables; results show them
-- once closed.
CREATE TABLE foundation.votes (
    proposal_id bigint NOT NULL REFERENCES foundation.proposals ON DELETE CASCADE,
    agent       text NOT NULL,
    vote        text NOT NULL CHECK (vote IN ('yes', 'no', 'abstain')),
    reason      text,
    cast_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (proposal_id, agent)
);
SELECT pg_catalog.pg_extension_config_dump('foundation.votes',
  'WHERE proposal_id IN (SELECT proposal_id FROM foundation.proposals'
  ' WHERE owner::oid IN (SELECT oid FROM pg_catalog.pg_roles))');

CREATE FUNCTION foundation.open_auction(spec jsonb, agents text[], deadline interval DEFAULT '30 seconds')
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_open_auction';
COMMENT ON FUNCTION foundation.open_auction(jsonb, text[], interval) IS
  'Open a sealed-bid auction: announced as {"type": "auction_opened", ...} on the control channel at commit; closed by its owner, or by the supervisor at the deadline or once every invited agent has bid.';
-- double precision, what foundation.bids stores (a numeric argument is
-- cast implicitly).
CREATE FUNCTION foundation.submit_bid(auction_id bigint, agent text, bid double precision, details jsonb DEFAULT '{}')
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_submit_bid';
COMMENT ON FUNCTION foundation.submit_bid(bigint, text, double precision, jsonb) IS
  'Bid for an agent you own; replaceable until the close; sealed. details.priority breaks ties.';
CREATE FUNCTION foundation.close_auction(auction_id bigint) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_close_auction';
COMMENT ON FUNCTION foundation.close_auction(bigint) IS
  'Decide (the run_auction rule) and store the result, broadcast on events at commit; idempotent: concurrent closers get one result.';
CREATE FUNCTION foundation.auction_bids(auction_id bigint)
    RETURNS TABLE (agent text, bid double precision, priority double precision, details jsonb,
                   error text, submitted_at timestamptz)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_auction_bids';
COMMENT ON FUNCTION foundation.auction_bids(bigint) IS
  'Every invited agent''s bid (NULL with error ''no bid'' for none), in invitation order, once the auction is closed; sealed (55000) while it is open.';
CREATE FUNCTION foundation.auction_result(auction_id bigint) RETURNS jsonb
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'fdn_auction_result_sql';
COMMENT ON FUNCTION foundation.auction_result(bigint) IS
  'The result of a closed auction; NULL while it is open.';
CREATE FUNCTION foundation.open_proposal(agents text[], proposal jsonb, consensus_type text,
    deadline interval, required_votes integer DEFAULT NULL)
    RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_open_proposal';
COMMENT ON FUNCTION foundation.open_proposal(text[], jsonb, text, interval, integer) IS
  'Open a proposal for votes: announced on control at commit; closed like an auction.';
CREATE FUNCTION foundation.cast_vote(proposal_id bigint, agent text, vote text, reason text DEFAULT NULL)
    RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_cast_vote';
COMMENT ON FUNCTION foundation.cast_vote(bigint, text, text, text) IS
  'Vote yes, no or abstain for an agent you own; one vote per agent; sealed until the close.';
CREATE FUNCTION foundation.close_proposal(proposal_id bigint) RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fdn_close_proposal';
COMMENT ON FUNCTION foundation.close_proposal(bigint) IS
  'Decide (the coordinate_consensus rule; a missing vote is a failed one) and store the result; idempotent.';

