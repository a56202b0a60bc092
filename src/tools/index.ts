import type { ToolDef } from './registry.js';
import { blocksTools } from './blocks.js';
import { commentsTools } from './comments.js';
import { dataSourcesTools } from './data-sources.js';
import { databasesTools } from './databases.js';
import { filesTools } from './files.js';
import { pageTools } from './pages.js';
import { searchTools } from './search.js';
import { usersTools } from './users.js';
import { viewsTools } from './views.js';
import { workspaceTools } from './workspace.js';

/** Every tool this server offers, in tools/list order. */
export const allTools: ToolDef[] = [
  ...searchTools,
  ...pageTools,
  ...blocksTools,
  ...databasesTools,
  ...dataSourcesTools,
  ...viewsTools,
  ...commentsTools,
  ...usersTools,
  ...filesTools,
  ...workspaceTools,
];
