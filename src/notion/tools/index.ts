import type { ToolDef } from '../../mcp/tools.js';
import { pageTools } from './pages.js';
import { searchTools } from './search.js';

/** Every tool this server offers, in tools/list order. */
export const allTools: ToolDef[] = [...searchTools, ...pageTools];
