/**
 * The connector's icon, served at ICON_PATH and named in serverInfo.icons (MCP 2025-11-25+), so
 * apps that show server icons show ours. Our own mark (a page with a connector plug), not Notion's logo.
 */
export const ICON_PATH = '/icon.svg';

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Notion connector">
<rect width="64" height="64" rx="14" fill="#191919"/>
<path d="M20 14h18l8 8v28H20z" fill="#fff"/>
<path d="M38 14v8h8" fill="#d9d9d9"/>
<path d="M26 28h14M26 34h14M26 40h9" stroke="#191919" stroke-width="3" stroke-linecap="round"/>
</svg>
`;
