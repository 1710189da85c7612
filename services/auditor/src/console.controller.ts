import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';

/** The console's files (checked in, no build step) and the chart library, served from node_modules. */
const CONSOLE_DIR = join(__dirname, '..', 'console');
const ASSETS: Readonly<Record<string, { path: () => string; type: string }>> = {
  'console.js': { path: () => join(CONSOLE_DIR, 'console.js'), type: 'text/javascript; charset=utf-8' },
  'chart-format.js': {
    path: () => join(CONSOLE_DIR, 'chart-format.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'console.css': { path: () => join(CONSOLE_DIR, 'console.css'), type: 'text/css; charset=utf-8' },
  'chart.umd.min.js': {
    // The package's exports map names no UMD build: it sits beside the CommonJS entry point.
    path: () => join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

/**
 * Nothing may load from elsewhere, nothing inline runs, and the page cannot be framed. The key a
 * reviewer types stays in the tab's sessionStorage and travels only in the X-Api-Key header of
 * the page's own API calls, never in a URL.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The operator console: a static page and its scripts, served without credentials because they
 * hold no data. Every view reads and acts through the audit API with the reviewer's key, so the
 * API, not the page, enforces roles and tenant isolation.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  private readonly cache = new Map<string, Buffer>();

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('Cache-Control', 'no-cache')
  page(): string {
    return this.read('index.html', () => join(CONSOLE_DIR, 'index.html')).toString('utf8');
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() res: Response): void {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (asset === undefined) throw new NotFoundException(`no console asset ${name}`);
    res
      .status(200)
      .set({ 'Content-Type': asset.type, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' })
      .send(this.read(name, asset.path));
  }

  private read(name: string, path: () => string): Buffer {
    let body = this.cache.get(name);
    if (body === undefined) {
      body = readFileSync(path());
      this.cache.set(name, body);
    }
    return body;
  }
}
