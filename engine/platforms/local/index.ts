export { LocalStorage } from "./local-storage";
