// migrations.h - the versioned PostgreSQL schema of the mailstore.
//
// Migrations are append-only: a released migration is never edited; changes are
// new, higher-numbered migrations. Apply() runs every migration not yet recorded
// in schema_migrations, each in its own transaction under an advisory lock, so it
// is idempotent and safe when several metad replicas or `columbactl migrate`
// start at once. Every mailbox table is keyed by account_id first (DESIGN
// invariant 5: shardable by account).
#pragma once

#include <string>
#include <vector>

#include "lib/base/result.h"

namespace columba::pg {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& AllMigrations();

struct MigrateReport {
  std::vector<int> applied;  // versions applied by this call
  int current = 0;           // highest version now in the database
};

// Applies pending migrations to the database at `uri` (a libpq URI).
Result<MigrateReport> ApplyMigrations(const std::string& uri);

}  // namespace columba::pg
