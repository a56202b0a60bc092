import type { ToolDef } from '../../mcp/tools.js';

export const workspaceTools: ToolDef[] = [];
