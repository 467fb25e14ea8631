-- Core's identity and access tables: where users come from, user groups (LDAP), project members,
-- robot accounts, UI sessions and the failed-login throttle. Modeled on Harbor's user_group,
-- project_member, robot and role tables; sessions and throttling live here (Harbor keeps them in
-- Redis) so they hold across core workers and replicas.

-- Where a user authenticates: 'db' (password hash here) or 'ldap' (onboarded at first login).
-- admin_role_in_auth: the LDAP admin group made this user a system admin at its last login.
ALTER TABLE users
    ADD COLUMN auth_source        varchar(16) NOT NULL DEFAULT 'db' CHECK (auth_source IN ('db', 'ldap')),
    ADD COLUMN ldap_dn            varchar(1024),
    ADD COLUMN admin_role_in_auth boolean NOT NULL DEFAULT false;

-- group_type: 1 LDAP, 2 HTTP, 3 OIDC (Harbor's values). LDAP groups are identified by their DN.
CREATE TABLE user_groups (
    id            serial PRIMARY KEY,
    group_name    varchar(255) NOT NULL,
    group_type    smallint NOT NULL CHECK (group_type IN (1, 2, 3)),
    ldap_group_dn varchar(1024) NOT NULL DEFAULT '',
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_groups_ldap_dn_idx ON user_groups (lower(ldap_group_dn)) WHERE group_type = 1;
CREATE UNIQUE INDEX user_groups_name_idx ON user_groups (group_type, group_name) WHERE group_type <> 1;

-- Which groups a user belongs to, refreshed from LDAP at each login of that user.
CREATE TABLE user_group_members (
    user_id  integer NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    group_id integer NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_group_members_group_idx ON user_group_members (group_id);

-- entity_type 'u' (entity_id = users.user_id) or 'g' (entity_id = user_groups.id).
-- role: 1 Project Admin, 2 Developer, 3 Guest, 4 Maintainer, 5 Limited Guest.
CREATE TABLE project_members (
    id            serial PRIMARY KEY,
    project_id    integer NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    entity_id     integer NOT NULL,
    entity_type   char(1) NOT NULL CHECK (entity_type IN ('u', 'g')),
    role          smallint NOT NULL CHECK (role BETWEEN 1 AND 5),
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, entity_id, entity_type)
);
CREATE INDEX project_members_entity_idx ON project_members (entity_type, entity_id);

-- name is stored without the configurable prefix: '<project>+<name>' (project level) or
-- '<name>' (system level). secret_hash is an argon2id hash; the secret is shown once.
-- expires_at: unix seconds, -1 = never (Harbor's representation).
CREATE TABLE robots (
    id            serial PRIMARY KEY,
    name          varchar(255) NOT NULL UNIQUE,
    description   varchar(1024) NOT NULL DEFAULT '',
    level         varchar(16) NOT NULL CHECK (level IN ('system', 'project')),
    project_id    integer REFERENCES projects (project_id) ON DELETE CASCADE,
    secret_hash   text NOT NULL,
    duration      integer NOT NULL,
    expires_at    bigint NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    creator_type  varchar(32) NOT NULL DEFAULT 'local',
    creator_ref   integer NOT NULL DEFAULT 0,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    CHECK ((level = 'project') = (project_id IS NOT NULL))
);
CREATE INDEX robots_project_idx ON robots (project_id);

-- One row per granted (namespace, resource, action). kind 'system' uses namespace '/', kind
-- 'project' a project (project_id set) or '*' (every project, project_id NULL). Deleting a
-- project removes the grants that named it.
CREATE TABLE robot_permissions (
    id         serial PRIMARY KEY,
    robot_id   integer NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    kind       varchar(16) NOT NULL CHECK (kind IN ('system', 'project')),
    namespace  varchar(255) NOT NULL,
    project_id integer REFERENCES projects (project_id) ON DELETE CASCADE,
    resource   varchar(64) NOT NULL,
    action     varchar(64) NOT NULL,
    UNIQUE (robot_id, kind, namespace, resource, action)
);
CREATE INDEX robot_permissions_robot_idx ON robot_permissions (robot_id);

-- UI sessions: the cookie carries a random id; only its SHA-256 is stored, so a database dump
-- cannot be replayed as cookies. Deleting the row revokes the session.
CREATE TABLE ui_sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      integer NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token   varchar(128) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX ui_sessions_user_idx ON ui_sessions (user_id);
CREATE INDEX ui_sessions_expires_idx ON ui_sessions (expires_at);

-- Failed logins per (username, client address) within a window; locked_until blocks further
-- attempts from that client for that name without touching the password check.
CREATE TABLE login_failures (
    username     varchar(255) NOT NULL,
    client_ip    varchar(64) NOT NULL,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (username, client_ip)
);
