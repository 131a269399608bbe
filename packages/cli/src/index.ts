export { buildProgram, EXIT, type CommandModule } from './program.js';
