-- CREATE and DROP EXTENSION leave nothing behind. pg_regress has already created kpi here.
\pset null '(null)'
SELECT extname, extversion, extrelocatable, (SELECT count(*) FROM pg_depend WHERE refobjid = pg_extension.oid AND classid = 'pg_namespace'::regclass AND objid = 'kpi'::regnamespace) AS owns_schema_kpi
  FROM pg_extension WHERE extname = 'kpi';

-- Every object the extension owns, by kind.
SELECT classid::regclass AS catalog, count(*)
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'kpi')
   AND deptype = 'e'
 GROUP BY 1 ORDER BY 1::text;

DROP EXTENSION kpi;
-- Nothing is left: no schema, no types, no functions, no tables.
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'kpi';
SELECT count(*) AS functions FROM pg_proc WHERE proname LIKE 'kpi%' OR prosrc LIKE 'kpi_%';
SELECT count(*) AS types FROM pg_type WHERE typname IN ('sender', 'sketch', 'proportion', 'business_hours', 'turn');

CREATE EXTENSION kpi;
SELECT extversion FROM pg_extension WHERE extname = 'kpi';
-- Not relocatable.
ALTER EXTENSION kpi SET SCHEMA public;
