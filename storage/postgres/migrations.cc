// migrations.cc - schema versions, applied in order; see migrations.h for the rules.
#include "storage/postgres/migrations.h"

#include <pqxx/pqxx>

namespace columba::pg {

namespace {

// v1: the mailstore. Notes:
// - mailbox_id, email_id come from global sequences but are only meaningful with
//   their account_id; every key and every query carries account_id first.
// - uidnext/highestmodseq live on the mailbox row; a change locks that row, so
//   UID and MODSEQ assignment is serialised per mailbox across metad replicas and
//   commit order equals assignment order.
// - storage_used/message_used live on the account row and change in the same
//   transaction as the messages they count, so quota checks are exact.
// - expunged keeps tombstones (uid, modseq) for QRESYNC VANISHED.
const char* kV1 = R"sql(
CREATE TABLE domains (
  name        text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
  account_id     bigserial PRIMARY KEY,
  address        text NOT NULL UNIQUE,
  storage_limit  bigint NOT NULL DEFAULT 0 CHECK (storage_limit >= 0),
  message_limit  bigint NOT NULL DEFAULT 0 CHECK (message_limit >= 0),
  storage_used   bigint NOT NULL DEFAULT 0,
  message_used   bigint NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE mailbox_id_seq;
CREATE SEQUENCE email_id_seq;
-- UIDVALIDITY values: ascending, never reused; start at the current unix time so
-- a restored or rebuilt database does not repeat values clients have cached.
CREATE SEQUENCE uidvalidity_seq MAXVALUE 4294967295;
SELECT setval('uidvalidity_seq', extract(epoch FROM now())::bigint);

CREATE TABLE mailboxes (
  account_id     bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
  mailbox_id     bigint NOT NULL DEFAULT nextval('mailbox_id_seq'),
  name           text NOT NULL,
  uidvalidity    bigint NOT NULL DEFAULT nextval('uidvalidity_seq'),
  uidnext        bigint NOT NULL DEFAULT 1 CHECK (uidnext BETWEEN 1 AND 4294967296),
  highestmodseq  bigint NOT NULL DEFAULT 1,
  special_use    smallint NOT NULL DEFAULT 0,
  subscribed     boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, mailbox_id),
  UNIQUE (account_id, name)
);

CREATE TABLE messages (
  account_id     bigint NOT NULL,
  mailbox_id     bigint NOT NULL,
  uid            bigint NOT NULL,
  modseq         bigint NOT NULL,
  flags          integer NOT NULL DEFAULT 0,
  keywords       text[] NOT NULL DEFAULT '{}',
  internal_date  timestamptz NOT NULL,
  size           bigint NOT NULL,
  blob_id        text NOT NULL,
  email_id       bigint NOT NULL,
  parsed         bytea,            -- columba.v1.ParsedFields, serialized
  subject        text NOT NULL DEFAULT '',
  from_text      text NOT NULL DEFAULT '',
  to_text        text NOT NULL DEFAULT '',
  cc_text        text NOT NULL DEFAULT '',
  bcc_text       text NOT NULL DEFAULT '',
  message_id     text NOT NULL DEFAULT '',
  sent_at        bigint NOT NULL DEFAULT 0,
  headers        text NOT NULL DEFAULT '',
  body_text      text NOT NULL DEFAULT '',
  PRIMARY KEY (account_id, mailbox_id, uid),
  FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes ON DELETE CASCADE
);
CREATE INDEX messages_by_modseq ON messages (account_id, mailbox_id, modseq);
CREATE INDEX messages_by_blob ON messages (blob_id);

CREATE TABLE expunged (
  account_id  bigint NOT NULL,
  mailbox_id  bigint NOT NULL,
  uid         bigint NOT NULL,
  modseq      bigint NOT NULL,
  PRIMARY KEY (account_id, mailbox_id, uid),
  FOREIGN KEY (account_id, mailbox_id) REFERENCES mailboxes ON DELETE CASCADE
);
CREATE INDEX expunged_by_modseq ON expunged (account_id, mailbox_id, modseq);
)sql";

// v2: Append as one server-side function, so a delivery costs metad one round
// trip to PostgreSQL (one statement in its own transaction) instead of seven.
// The function keeps v1's rules: lock the account row first (quota counters),
// then the mailbox row (UID/MODSEQ); on any refusal it raises, which rolls the
// whole statement back. SQLSTATEs (class CB, "Columba"): CBN01 no such account,
// CBN02 no such mailbox, CBQ01 over quota, CBL01 UID space exhausted.
const char* kV2 = R"sql(
CREATE FUNCTION columba_append(
    p_account bigint, p_mailbox bigint, p_name text, p_fallback boolean, p_size bigint,
    p_flags integer, p_keywords text[], p_internal_date bigint, p_blob text, p_parsed bytea,
    p_subject text, p_from text, p_to text, p_cc text, p_bcc text, p_message_id text,
    p_sent_at bigint, p_headers text, p_body_text text,
    OUT mailbox_id bigint, OUT uid bigint, OUT modseq bigint, OUT uidvalidity bigint, OUT name text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_slimit bigint; v_mlimit bigint; v_sused bigint; v_mused bigint;
BEGIN
  IF p_mailbox <> 0 THEN
    mailbox_id := p_mailbox;
  ELSE
    SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
    IF mailbox_id IS NULL AND p_fallback THEN
      SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = 'INBOX';
    END IF;
  END IF;
  UPDATE accounts a SET storage_used = a.storage_used + p_size, message_used = a.message_used + 1
    WHERE a.account_id = p_account
    RETURNING a.storage_limit, a.message_limit, a.storage_used, a.message_used
    INTO v_slimit, v_mlimit, v_sused, v_mused;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such account' USING ERRCODE = 'CBN01';
  END IF;
  IF mailbox_id IS NULL THEN
    RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'CBN02';
  END IF;
  IF (v_slimit > 0 AND v_sused > v_slimit) OR (v_mlimit > 0 AND v_mused > v_mlimit) THEN
    RAISE EXCEPTION 'mailbox quota exceeded' USING ERRCODE = 'CBQ01';
  END IF;
  UPDATE mailboxes m SET uidnext = m.uidnext + 1, highestmodseq = m.highestmodseq + 1
    WHERE m.account_id = p_account AND m.mailbox_id = columba_append.mailbox_id
    RETURNING m.uidnext - 1, m.highestmodseq, m.uidvalidity, m.name INTO uid, modseq, uidvalidity, name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'CBN02';
  END IF;
  IF uid > 4294967295 THEN
    RAISE EXCEPTION 'mailbox UID space exhausted' USING ERRCODE = 'CBL01';
  END IF;
  INSERT INTO messages (account_id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id,
      email_id, parsed, subject, from_text, to_text, cc_text, bcc_text, message_id, sent_at, headers, body_text)
    VALUES (p_account, columba_append.mailbox_id, uid, modseq, p_flags, p_keywords,
      CASE WHEN p_internal_date = 0 THEN now() ELSE to_timestamp(p_internal_date) END,
      p_size, p_blob, nextval('email_id_seq'), p_parsed, p_subject, p_from, p_to, p_cc, p_bcc,
      p_message_id, p_sent_at, p_headers, p_body_text);
  PERFORM pg_notify('columba_changes',
      p_account || ':' || columba_append.mailbox_id || ':' || modseq || ':' || (uid + 1) || ':0');
END
$fn$;
)sql";

// v3: the large per-message columns are compressed with lz4 instead of pglz,
// which profiling showed as the single biggest CPU cost of a delivery in
// PostgreSQL (TOAST compression of the body text). New rows only; old rows stay
// readable as they are.
const char* kV3 = R"sql(
ALTER TABLE messages
  ALTER COLUMN body_text SET COMPRESSION lz4,
  ALTER COLUMN headers SET COMPRESSION lz4,
  ALTER COLUMN parsed SET COMPRESSION lz4;
)sql";

// v4: columba_append also returns the account's quota limits and usage after
// the append, so front-ends can refuse an over-quota copy before writing its
// blob next time (nothing stored, not even an orphan blob) without an extra
// round trip per delivery. Same body as v2 otherwise.
const char* kV4 = R"sql(
DROP FUNCTION columba_append(bigint, bigint, text, boolean, bigint, integer, text[], bigint, text, bytea,
    text, text, text, text, text, text, bigint, text, text);
CREATE FUNCTION columba_append(
    p_account bigint, p_mailbox bigint, p_name text, p_fallback boolean, p_size bigint,
    p_flags integer, p_keywords text[], p_internal_date bigint, p_blob text, p_parsed bytea,
    p_subject text, p_from text, p_to text, p_cc text, p_bcc text, p_message_id text,
    p_sent_at bigint, p_headers text, p_body_text text,
    OUT mailbox_id bigint, OUT uid bigint, OUT modseq bigint, OUT uidvalidity bigint, OUT name text,
    OUT storage_limit bigint, OUT message_limit bigint, OUT storage_used bigint, OUT message_used bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_mailbox <> 0 THEN
    SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.mailbox_id = p_mailbox;
  ELSE
    SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
    IF mailbox_id IS NULL AND p_fallback THEN
      SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = 'INBOX';
    END IF;
  END IF;
  UPDATE accounts a SET storage_used = a.storage_used + p_size, message_used = a.message_used + 1
    WHERE a.account_id = p_account
    RETURNING a.storage_limit, a.message_limit, a.storage_used, a.message_used
    INTO storage_limit, message_limit, storage_used, message_used;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such account' USING ERRCODE = 'CBN01';
  END IF;
  IF mailbox_id IS NULL THEN
    RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'CBN02';
  END IF;
  IF (storage_limit > 0 AND storage_used > storage_limit) OR (message_limit > 0 AND message_used > message_limit) THEN
    RAISE EXCEPTION 'mailbox quota exceeded' USING ERRCODE = 'CBQ01';
  END IF;
  UPDATE mailboxes m SET uidnext = m.uidnext + 1, highestmodseq = m.highestmodseq + 1
    WHERE m.account_id = p_account AND m.mailbox_id = columba_append.mailbox_id
    RETURNING m.uidnext - 1, m.highestmodseq, m.uidvalidity, m.name INTO uid, modseq, uidvalidity, name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'CBN02';
  END IF;
  IF uid > 4294967295 THEN
    RAISE EXCEPTION 'mailbox UID space exhausted' USING ERRCODE = 'CBL01';
  END IF;
  INSERT INTO messages (account_id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id,
      email_id, parsed, subject, from_text, to_text, cc_text, bcc_text, message_id, sent_at, headers, body_text)
    VALUES (p_account, columba_append.mailbox_id, uid, modseq, p_flags, p_keywords,
      CASE WHEN p_internal_date = 0 THEN now() ELSE to_timestamp(p_internal_date) END,
      p_size, p_blob, nextval('email_id_seq'), p_parsed, p_subject, p_from, p_to, p_cc, p_bcc,
      p_message_id, p_sent_at, p_headers, p_body_text);
  PERFORM pg_notify('columba_changes',
      p_account || ':' || columba_append.mailbox_id || ':' || modseq || ':' || (uid + 1) || ':0');
END
$fn$;
)sql";

// v5: every change rewrites its mailbox row (uidnext, highestmodseq) and every
// append its account row (usage). With full pages each new row version goes to
// another page and reads walk ever longer chains of dead versions (profiling
// the IMAP mix showed heap_hot_search_buffer / heap_page_prune_opt as
// PostgreSQL's top costs). Half-empty pages let these updates stay HOT (on the
// same page, no index entries), and aggressive autovacuum keeps the chains short.
const char* kV5 = R"sql(
ALTER TABLE mailboxes SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.0,
                           autovacuum_vacuum_threshold = 1000);
ALTER TABLE accounts SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.0,
                          autovacuum_vacuum_threshold = 1000);
ALTER TABLE messages SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
)sql";

// v6: the large, immutable per-message columns (parsed fields and the search
// texts) move out of `messages` into `message_texts`, one row per (account,
// email_id). Profiling the IMAP mix with pg_stat_statements showed `messages`
// rows averaging 6.6 KB (about one row per heap page): every flag change
// rewrote one, and SEARCH UNSEEN, SELECT and STATUS read ~1,000 pages for a
// 1,000-message mailbox. Now a `messages` row is ~100 bytes and COPY/MOVE copy
// only it (copies share email_id and so their texts). The small search columns
// stay inline (STORAGE MAIN) so SEARCH SUBJECT/FROM reads no TOAST; the large
// ones go out of line early (toast_tuple_target). Texts are deleted with the
// last message that names them (trigger below); every path that deletes
// messages or copies them holds the account row lock, so a concurrent COPY
// cannot lose its texts. Existing rows are moved and `messages` is rewritten
// (CLUSTER) inside the migration, under its lock.
const char* kV6 = R"sql(
CREATE TABLE message_texts (
  account_id  bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
  email_id    bigint NOT NULL,
  parsed      bytea COMPRESSION lz4,   -- columba.v1.ParsedFields without body_text, serialized
  subject     text NOT NULL DEFAULT '',
  from_text   text NOT NULL DEFAULT '',
  to_text     text NOT NULL DEFAULT '',
  cc_text     text NOT NULL DEFAULT '',
  bcc_text    text NOT NULL DEFAULT '',
  message_id  text NOT NULL DEFAULT '',
  sent_at     bigint NOT NULL DEFAULT 0,
  headers     text COMPRESSION lz4 NOT NULL DEFAULT '',
  body_text   text COMPRESSION lz4 NOT NULL DEFAULT '',
  PRIMARY KEY (account_id, email_id)
) WITH (toast_tuple_target = 256);
ALTER TABLE message_texts
  ALTER COLUMN subject SET STORAGE MAIN, ALTER COLUMN from_text SET STORAGE MAIN,
  ALTER COLUMN to_text SET STORAGE MAIN, ALTER COLUMN cc_text SET STORAGE MAIN,
  ALTER COLUMN bcc_text SET STORAGE MAIN, ALTER COLUMN message_id SET STORAGE MAIN;

INSERT INTO message_texts (account_id, email_id, parsed, subject, from_text, to_text, cc_text, bcc_text,
                           message_id, sent_at, headers, body_text)
  SELECT DISTINCT ON (account_id, email_id) account_id, email_id, parsed, subject, from_text, to_text, cc_text,
         bcc_text, message_id, sent_at, headers, body_text
  FROM messages ORDER BY account_id, email_id;

ALTER TABLE messages DROP COLUMN parsed, DROP COLUMN subject, DROP COLUMN from_text, DROP COLUMN to_text,
  DROP COLUMN cc_text, DROP COLUMN bcc_text, DROP COLUMN message_id, DROP COLUMN sent_at,
  DROP COLUMN headers, DROP COLUMN body_text;
CREATE INDEX messages_by_email ON messages (account_id, email_id);
CLUSTER messages USING messages_pkey;

CREATE FUNCTION columba_drop_texts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM message_texts t
    USING (SELECT DISTINCT account_id, email_id FROM gone) g
    WHERE t.account_id = g.account_id AND t.email_id = g.email_id
      AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.account_id = g.account_id AND m.email_id = g.email_id);
  RETURN NULL;
END
$fn$;
CREATE TRIGGER messages_drop_texts AFTER DELETE ON messages REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION columba_drop_texts();

CREATE OR REPLACE FUNCTION columba_append(
    p_account bigint, p_mailbox bigint, p_name text, p_fallback boolean, p_size bigint,
    p_flags integer, p_keywords text[], p_internal_date bigint, p_blob text, p_parsed bytea,
    p_subject text, p_from text, p_to text, p_cc text, p_bcc text, p_message_id text,
    p_sent_at bigint, p_headers text, p_body_text text,
    OUT mailbox_id bigint, OUT uid bigint, OUT modseq bigint, OUT uidvalidity bigint, OUT name text,
    OUT storage_limit bigint, OUT message_limit bigint, OUT storage_used bigint, OUT message_used bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_email bigint := nextval('email_id_seq');
BEGIN
  IF p_mailbox <> 0 THEN
    SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.mailbox_id = p_mailbox;
  ELSE
    SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
    IF mailbox_id IS NULL AND p_fallback THEN
      SELECT m.mailbox_id INTO mailbox_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = 'INBOX';
    END IF;
  END IF;
  UPDATE accounts a SET storage_used = a.storage_used + p_size, message_used = a.message_used + 1
    WHERE a.account_id = p_account
    RETURNING a.storage_limit, a.message_limit, a.storage_used, a.message_used
    INTO storage_limit, message_limit, storage_used, message_used;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such account' USING ERRCODE = 'CBN01';
  END IF;
  IF mailbox_id IS NULL THEN
    RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'CBN02';
  END IF;
  IF (storage_limit > 0 AND storage_used > storage_limit) OR (message_limit > 0 AND message_used > message_limit) THEN
    RAISE EXCEPTION 'mailbox quota exceeded' USING ERRCODE = 'CBQ01';
  END IF;
  UPDATE mailboxes m SET uidnext = m.uidnext + 1, highestmodseq = m.highestmodseq + 1
    WHERE m.account_id = p_account AND m.mailbox_id = columba_append.mailbox_id
    RETURNING m.uidnext - 1, m.highestmodseq, m.uidvalidity, m.name INTO uid, modseq, uidvalidity, name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such mailbox' USING ERRCODE = 'CBN02';
  END IF;
  IF uid > 4294967295 THEN
    RAISE EXCEPTION 'mailbox UID space exhausted' USING ERRCODE = 'CBL01';
  END IF;
  INSERT INTO message_texts (account_id, email_id, parsed, subject, from_text, to_text, cc_text, bcc_text,
      message_id, sent_at, headers, body_text)
    VALUES (p_account, v_email, p_parsed, p_subject, p_from, p_to, p_cc, p_bcc, p_message_id, p_sent_at,
      p_headers, p_body_text);
  INSERT INTO messages (account_id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, email_id)
    VALUES (p_account, columba_append.mailbox_id, uid, modseq, p_flags, p_keywords,
      CASE WHEN p_internal_date = 0 THEN now() ELSE to_timestamp(p_internal_date) END,
      p_size, p_blob, v_email);
  PERFORM pg_notify('columba_changes',
      p_account || ':' || columba_append.mailbox_id || ':' || modseq || ':' || (uid + 1) || ':0');
END
$fn$;
)sql";

// v7: mailbox_id determines account_id, but the planner multiplies their
// selectivities as if independent and so expects ~1/number-of-mailboxes of an
// account's messages in any mailbox (163 rows estimated for 1,312 in the
// profiled INBOX). With the wrong estimate SEARCH on text keys chose a nested
// loop over message_texts (2.5 ms) instead of a merge join (1.3 ms). Declaring
// the dependency fixes the estimate for every per-mailbox query.
const char* kV7 = R"sql(
CREATE STATISTICS messages_mailbox_account (dependencies) ON account_id, mailbox_id FROM messages;
ANALYZE messages;
)sql";

// v8: the outbound/retry queue (queue.proto, pg_queue.cc). Not a mailbox table:
// keyed by queue_id, not by account (a message may have recipients in many
// accounts and in none). Notes:
// - queue_id is 16 hex digits, 8 of the creation second then 8 random, so the
//   primary key orders the listing oldest first and pages by `queue_id > after`.
// - A claim leases a recipient by setting leased_by/lease_until AND moving
//   next_attempt_at to the lease expiry, so "due" (next_attempt_at <= now()) alone
//   covers both never-leased and lease-expired recipients, and the partial index
//   queue_due serves the claim query (state 1 QUEUED, 2 DEFERRED = pending).
// - blob_id is a reference to the blob store: the blob GC (not yet written) must
//   treat queue_messages_by_blob like messages_by_blob.
const char* kV8 = R"sql(
CREATE TABLE queue_messages (
  queue_id    text PRIMARY KEY CHECK (queue_id ~ '^[0-9a-f]{16}$'),
  sender      text NOT NULL,
  blob_id     text NOT NULL CHECK (blob_id ~ '^[0-9a-f]{64}$'),
  size        bigint NOT NULL CHECK (size >= 0),
  envid       text NOT NULL DEFAULT '',
  ret         text NOT NULL DEFAULT '',
  smtputf8    boolean NOT NULL DEFAULT false,
  body        text NOT NULL DEFAULT '7BIT',
  client_ip   text NOT NULL DEFAULT '',
  helo        text NOT NULL DEFAULT '',
  auth_user   text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_messages_by_blob ON queue_messages (blob_id);

CREATE TABLE queue_recipients (
  recipient_id     bigserial PRIMARY KEY,
  queue_id         text NOT NULL REFERENCES queue_messages ON DELETE CASCADE,
  address          text NOT NULL,
  route            smallint NOT NULL CHECK (route IN (1, 2)),
  notify           text NOT NULL DEFAULT '',
  orcpt            text NOT NULL DEFAULT '',
  state            smallint NOT NULL DEFAULT 1 CHECK (state BETWEEN 1 AND 4),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text NOT NULL DEFAULT '',
  leased_by        text NOT NULL DEFAULT '',
  lease_until      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_recipients_of_message ON queue_recipients (queue_id, recipient_id);
CREATE INDEX queue_due ON queue_recipients (route, next_attempt_at) WHERE state IN (1, 2);
)sql";

// v9: the SQL directory (directory.backend: sql; storage/postgres/pg_directory.h).
// Virtual domains, accounts and aliases, apart from the mailstore's own `domains`
// and `accounts` (those hold mailbox state and quota usage; these hold who may log
// in and receive). Operators may manage them with plain SQL (docs/operations.md):
// - every key is stored lower-case (CHECK), COLLATE "C" so listings sort by bytes
//   like every other backend;
// - an account's domain is derived from its address and must exist (foreign key);
// - directory_addresses holds every address and every alias once (primary key),
//   filled by triggers on both tables, so no alias can equal another alias or any
//   account address, whoever writes and however concurrently: the second of two
//   clashing transactions waits on the unique index and then fails;
// - quotas are bigint (0 = unlimited); password_hash is "{SCHEME}..." (lib/auth).
const char* kV9 = R"sql(
CREATE TABLE directory_domains (
  name        text COLLATE "C" PRIMARY KEY CHECK (name = lower(name) AND name <> ''),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE directory_addresses (
  address  text COLLATE "C" PRIMARY KEY,
  kind     text NOT NULL CHECK (kind IN ('account', 'alias'))
);

CREATE TABLE directory_accounts (
  address         text COLLATE "C" PRIMARY KEY
                  CHECK (address = lower(address) AND address LIKE '_%@_%'),
  domain          text COLLATE "C" NOT NULL
                  GENERATED ALWAYS AS (substring(address from '@([^@]*)$')) STORED
                  REFERENCES directory_domains (name),
  password_hash   text NOT NULL DEFAULT '',
  quota_bytes     bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
  quota_messages  bigint NOT NULL DEFAULT 0 CHECK (quota_messages >= 0),
  enabled         boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directory_accounts_domain ON directory_accounts (domain, address);

CREATE TABLE directory_aliases (
  alias    text COLLATE "C" PRIMARY KEY CHECK (alias = lower(alias) AND alias LIKE '_%@_%'),
  address  text COLLATE "C" NOT NULL
           REFERENCES directory_accounts (address) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX directory_aliases_address ON directory_aliases (address);

-- Keeps directory_addresses in step with the key column TG_ARGV[0] of the table.
CREATE FUNCTION directory_claim_address() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  old_key text;
  new_key text;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_key := to_jsonb(OLD) ->> TG_ARGV[0]; END IF;
  IF TG_OP <> 'DELETE' THEN new_key := to_jsonb(NEW) ->> TG_ARGV[0]; END IF;
  IF old_key IS DISTINCT FROM new_key THEN
    IF old_key IS NOT NULL THEN
      DELETE FROM directory_addresses WHERE address = old_key;
    END IF;
    IF new_key IS NOT NULL THEN
      INSERT INTO directory_addresses (address, kind) VALUES (new_key, TG_ARGV[1]);
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER directory_accounts_claim AFTER INSERT OR DELETE OR UPDATE OF address ON directory_accounts
  FOR EACH ROW EXECUTE FUNCTION directory_claim_address('address', 'account');
CREATE TRIGGER directory_aliases_claim AFTER INSERT OR DELETE OR UPDATE OF alias ON directory_aliases
  FOR EACH ROW EXECUTE FUNCTION directory_claim_address('alias', 'alias');
)sql";

// v10: relay domains and catch-all aliases in the SQL directory.
// - directory_domains.kind: 'local' (every row so far) or 'relay'; the name stays
//   the primary key, so a domain is one kind or the other, never both.
// - accounts live in local domains only: directory_accounts.domain_kind is always
//   'local' and (domain, domain_kind) references (name, kind), so neither an
//   account in a relay domain nor turning a domain with accounts into a relay
//   domain passes, even with plain SQL.
// - an alias is either one '@' with text on both sides (v9 allowed more '@'s,
//   which the API never wrote; NOT VALID leaves rows written by hand before v10
//   alone, so the migration cannot fail on them) or "@domain", that local
//   domain's catch-all (one per domain: the alias is the primary key); the
//   domain must exist as a local domain (foreign key through the generated
//   columns catchall_domain/catchall_kind, NULL for ordinary aliases, which
//   MATCH SIMPLE leaves unchecked).
const char* kV10 = R"sql(
ALTER TABLE directory_domains
  ADD COLUMN kind text NOT NULL DEFAULT 'local' CHECK (kind IN ('local', 'relay'));
ALTER TABLE directory_domains ADD CONSTRAINT directory_domains_name_kind UNIQUE (name, kind);

ALTER TABLE directory_accounts
  ADD COLUMN domain_kind text NOT NULL DEFAULT 'local' CHECK (domain_kind = 'local');
ALTER TABLE directory_accounts ADD CONSTRAINT directory_accounts_local_domain
  FOREIGN KEY (domain, domain_kind) REFERENCES directory_domains (name, kind);

ALTER TABLE directory_aliases DROP CONSTRAINT directory_aliases_alias_check;
ALTER TABLE directory_aliases ADD CONSTRAINT directory_aliases_alias_check
  CHECK (alias = lower(alias) AND (alias ~ '^[^@]+@[^@]+$' OR alias ~ '^@[^@]+$')) NOT VALID;
ALTER TABLE directory_aliases
  ADD COLUMN catchall_domain text COLLATE "C"
    GENERATED ALWAYS AS (CASE WHEN alias LIKE '@%' THEN substr(alias, 2) END) STORED,
  ADD COLUMN catchall_kind text
    GENERATED ALWAYS AS (CASE WHEN alias LIKE '@%' THEN 'local' END) STORED;
ALTER TABLE directory_aliases ADD CONSTRAINT directory_aliases_catchall_local_domain
  FOREIGN KEY (catchall_domain, catchall_kind) REFERENCES directory_domains (name, kind);
)sql";

const std::vector<Migration> kMigrations = {
    {1, "mailstore", kV1},
    {2, "append function", kV2},
    {3, "lz4 for large columns", kV3},
    {4, "append returns quota", kV4},
    {5, "room for HOT updates of hot rows", kV5},
    {6, "message texts apart from the hot rows", kV6},
    {7, "mailbox determines account for the planner", kV7},
    {8, "outbound queue", kV8},
    {9, "sql directory", kV9},
    {10, "relay domains and catch-all aliases", kV10},
};

// Any constant works; it only has to be the same in every process.
constexpr long long kMigrationLock = 0x436f6c756d6261;  // "Columba"

}  // namespace

const std::vector<Migration>& AllMigrations() { return kMigrations; }

Result<MigrateReport> ApplyMigrations(const std::string& uri) {
  MigrateReport report;
  try {
    pqxx::connection conn(uri);
    {
      // Session-level lock: concurrent runners wait here, then find nothing to do.
      pqxx::nontransaction n(conn);
      n.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
    }
    {
      pqxx::work w(conn);
      w.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version integer PRIMARY KEY, name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())");
      w.commit();
    }
    for (const auto& m : kMigrations) {
      pqxx::work w(conn);
      auto done = w.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (!done.empty()) continue;
      w.exec(m.sql);
      w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name);
      w.commit();
      report.applied.push_back(m.version);
    }
    pqxx::work w(conn);
    report.current = w.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
  } catch (const pqxx::broken_connection& e) {
    return Fail(ErrorKind::kUnavailable, std::string("postgres: ") + e.what());
  } catch (const std::exception& e) {
    return Fail(ErrorKind::kInternal, std::string("migration failed: ") + e.what());
  }
  return report;
}

}  // namespace columba::pg
