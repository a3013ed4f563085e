/**
 * Chart.js's UMD bundle as text, for the report page on Workers: wrangler.toml's Text rule makes
 * the bundler import this file as a string (chart.js's `exports` map hides it from Node and tsc).
 */
declare module "chart.js/dist/chart.umd.min.js" {
  const text: string;
  export default text;
}
