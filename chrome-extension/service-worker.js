/**
 * Service worker: on first install, open the options page so the user enters their YouTube API key
 * before the first click on the icon. All fetching and analysis happen in the popup.
 */
import { withDefaults } from './lib/settings.js';

chrome.runtime.onInstalled.addListener(async ({ reason }) => {
  if (reason !== chrome.runtime.OnInstalledReason.INSTALL) return;
  const { settings } = await chrome.storage.local.get('settings');
  if (!withDefaults(settings).apiKey) await chrome.runtime.openOptionsPage();
});
