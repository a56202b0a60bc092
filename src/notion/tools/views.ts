import type { ToolDef } from '../../mcp/tools.js';

export const viewsTools: ToolDef[] = [];
