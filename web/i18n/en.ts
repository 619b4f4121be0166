/**
 * English: the source catalogue. Every word a person reads on Keygate's pages, error pages and
 * browser messages, in the vocabulary of docs/glossary.md. Other languages are typed as
 * `Catalogue` (index.ts), so a key missing there is a type error; test/unit/i18n.test.ts checks
 * that both have the same keys, no empty text, and the same placeholders.
 *
 * A sentence with something in it is a function; a sentence with markup in it (a name in bold) is
 * a function of strings that the page calls through `rich` (web/pages/html.ts), which escapes the
 * sentence and puts the markup in its places.
 */

/** What the browser scripts (web/client) show: bundled apart from the rest, both languages. */
export const client = {
  unsupported: "This browser has no WebAuthn support, so it can't use security keys or passkeys. Try a current version of Chrome, Safari, Firefox or Edge.",
  insecure:
    "This page wasn't loaded over a secure (HTTPS) connection, so your browser won't use security keys or passkeys here. Ask your administrator to serve Keygate over HTTPS.",
  waiting: 'Touch your security key or confirm on your device…',
  network: 'Keygate could not be reached. Check your connection and try again.',
  tooManyAttempts: 'Too many attempts. Wait a minute, then try again.',
  serverProblem: (status: number) => `Keygate ran into a problem (error ${status}). Try again in a moment.`,
  serverRefused: (status: number) => `Keygate refused the request (error ${status}). Reload the page and try again.`,
  cancelledSeeList:
    "The request was cancelled or timed out. If your browser didn't offer your authenticator, it may not be one this organisation accepts: see the list above.",
  cancelled: "The request was cancelled or timed out. Try again when you're ready.",
  alreadyEnrolled: 'This key is already enrolled here. Use another key, or sign in with this one.',
  wrongAddress: "This page's address doesn't match Keygate's configured address, so your browser refused the request.",
  notSupported: "This security key or device can't create the kind of key Keygate needs. Try another key or device.",
  constraint: "This security key can't meet Keygate's requirements, for example because it has no PIN set. Set a PIN or try another key.",
  keyProblem: 'Your security key or device reported a problem. Unplug it, plug it back in and try again.',
  somethingWrong: 'Something went wrong talking to your security key. Try again, and tell your administrator if it keeps happening.',
  confirmItsYou: "Confirm it's you: touch your security key or use your passkey…",

  signedInGoing: 'Signed in. Taking you there…',
  signingIn: 'Signing you in…',
  enterUsername: 'Enter your username, or use the passkey button instead.',
  enrolledSigningIn: 'Your key is enrolled. Signing you in…',

  keyAdded: 'Key added.',
  nameRule: "A key's name must be 1 to 64 characters.",
  notConfirmed: "You did not confirm it's you with your key, so nothing was changed. Try again when you are ready.",
  renameKey: (name: string) => `Rename ${name}`,
  removeKey: (name: string) => `Remove ${name}`,
  renamed: (name: string) => `Renamed to “${name}”.`,
  removeQuestion: (name: string) => `Remove “${name}”? It will no longer sign you in, and any browser signed in with it is signed out.`,
  removeQuestionCurrent: (name: string) =>
    `Remove “${name}”? It will no longer sign you in, and any browser signed in with it is signed out. You signed in with it, so you will be signed out.`,
  remove: 'Remove',
  removeLastKey: 'Remove my last key',
  removedSignedOut: (name: string) => `Removed “${name}”. It was the key you signed in with, so you are signed out. Taking you to sign-in…`,
  removed: (name: string) => `Removed “${name}”. It can no longer sign in.`,

  cancel: 'Cancel',
  confirm: 'Confirm',
  linkCopied: 'Link copied. Paste it into a message to the person.',
  linkSelected: 'Your browser did not let Keygate copy the link, so it is selected: press Ctrl+C (⌘C on a Mac) to copy it.',
  recoveryLinkFor: (username: string) => `Recovery link for ${username}: it adds a new key and keeps their others.`,
  inviteLinkFor: (username: string) => `Invite link for ${username}.`,
  inviteLinkForAdmin: (username: string) => `Invite link for ${username}, who will be an administrator.`,
  gogsAccountCreated: ' Their Gogs account was created.',
  worksOnceUntil: (until: string) => ` It works once, until ${until}.`,
  inviteCreated: 'Invite created. Copy the link now: it is not shown again.',
  revokeInviteQuestion: (username: string) => `Revoke the invite for ${username}? Its link stops working now.`,
  reissueInviteQuestion: (username: string) => `Re-issue the invite for ${username}? Its current link stops working now, and a new one is shown here once.`,
  revokeLink: 'Revoke link',
  reissueLink: 'Re-issue link',
  inviteRevoked: (username: string) => `The invite for ${username} is revoked: its link no longer works.`,
  newRecoveryLinkFor: (username: string) => `New recovery link for ${username}: the old link no longer works.`,
  newInviteLinkFor: (username: string) => `New invite link for ${username}: the old link no longer works.`,
  newInviteLinkForAdmin: (username: string) => `New invite link for ${username}, who will be an administrator: the old link no longer works.`,
  newLinkWorksOnceUntil: (until: string) => ` This one works once, until ${until}.`,
  inviteReissued: 'Invite re-issued. Copy the new link now: it is not shown again.',

  revokeKeyQuestion: (username: string, key: string) =>
    `Revoke ${username}'s key “${key}”? It can never sign in again, and every session it signed in ends now.`,
  revokeKey: 'Revoke key',
  keyRevoked: (sessions: number) => (sessions === 1 ? 'Key revoked; 1 session ended.' : `Key revoked; ${sessions} sessions ended.`),
  disableQuestion: (username: string) => `Disable ${username}? All their sessions end now and none of their keys can sign in until you enable them again.`,
  disable: 'Disable',
  disabled: (username: string, sessions: number) =>
    sessions === 1 ? `${username} is disabled; 1 session ended.` : `${username} is disabled; ${sessions} sessions ended.`,
  enabled: (username: string) => `${username} is enabled and can sign in again.`,
  signEveryoneOutQuestion: 'Sign everyone out? Every session but yours ends now, and everyone must sign in again with their keys.',
  signEveryoneOut: 'Sign everyone out',
  everyoneSignedOut: (sessions: number) =>
    sessions === 1 ? 'Everyone is signed out: 1 session ended.' : `Everyone is signed out: ${sessions} sessions ended.`,
  endSessionsQuestion: (username: string) => `End every session of ${username}? They stay enabled and can sign in again with their keys.`,
  endSessions: 'End sessions',
  sessionsEnded: (sessions: number) => (sessions === 1 ? '1 session ended.' : `${sessions} sessions ended.`),
};

export const en = {
  /** The value of `<html lang>` and Content-Language. */
  tag: 'en',
  client,

  layout: {
    noscript: 'Keygate needs JavaScript to talk to your security key or passkey. Turn JavaScript on for this site and reload the page.',
  },

  actions: {
    goToSignIn: 'Go to sign-in',
    backToGogs: 'Back to Gogs',
    tryAgain: 'Try again',
    continue: 'Continue',
    backToAccount: 'Back to your account',
  },

  login: {
    title: 'Sign in',
    lead: (rpName: string) => `Sign in to ${rpName} with your security key or passkey. No password needed.`,
    leadsTo: 'After you sign in, you go on to Gogs, where your repositories are.',
    passkeyButton: 'Sign in with a passkey',
    or: 'or',
    username: 'Username',
    securityKeyButton: 'Continue with security key',
    noKeyYet: 'No key yet? Ask your administrator for an invite link.',
  },

  logout: {
    title: 'Sign out',
    question: (siteName: string) => `Sign out of ${siteName}? You'll need your security key or passkey to sign in again.`,
    button: 'Sign out',
    cancel: 'Cancel',
  },

  /** Said on the sign-in page when a session ended without its person signing out here (docs/glossary.md). */
  sessionEnded: {
    signed_out: 'You have been signed out.',
    timed_out: 'Your session timed out. Sign in again to continue.',
    credential_revoked:
      'You were signed out because an administrator revoked the key you signed in with. Sign in with another of your keys, or ask your administrator for a recovery link.',
    credential_removed: 'You were signed out because the key you signed in with was removed from your account. Sign in with another of your keys.',
    user_disabled: 'You were signed out because your account was disabled. Ask your administrator if you think this is a mistake.',
    ended_by_admin: 'An administrator signed you out. Sign in again to continue.',
    ended_by_user: 'This browser was signed out from another of your sessions. Sign in again to continue.',
  },

  enroll: {
    title: 'Enrol your key',
    lead: (username: string, rpName: string) => `You're enrolling a security key or passkey for ${username} on ${rpName}.`,
    recovery: 'This link adds a new key to your account; your other keys keep working.',
    accepts: 'This organisation accepts:',
    howItGoes:
      "When you continue, your browser will ask you to touch your security key, or to confirm with your phone or computer's fingerprint, face or screen lock.",
    nameLabel: 'Name for this key',
    optional: '(optional)',
    namePlaceholder: 'For example: Blue YubiKey',
    nameHint: 'Helps you tell your keys apart later.',
    button: 'Enrol your key',
  },

  /** What an invite link that cannot be used says, on its page and in the API's answer. */
  invite: {
    unknown: {
      title: 'This invite link is not valid',
      message: 'Check that you copied the whole link, or ask your administrator for a new one.',
    },
    expired: {
      title: 'This invite link has expired',
      message: 'Invite links work for a limited time. Ask your administrator for a new one.',
    },
    superseded: {
      title: 'This first-run link no longer works',
      message: 'An administrator already exists, so the link printed at first start was withdrawn. Ask an administrator for an invite link.',
    },
    used: {
      title: 'This invite link has already been used',
      message: 'Each link enrols one key. If that was you, sign in with your key; otherwise ask your administrator for a new link.',
    },
    revoked: {
      title: 'This invite link was revoked',
      message: 'An administrator withdrew it, so it no longer works. Ask your administrator for a new one.',
    },
  },

  welcome: {
    title: 'Welcome',
    lead: (username: string) => `Your key is enrolled and you are signed in as ${username}. Two things to do next:`,
    backupHeading: 'Add a backup key',
    keyCount: (keys: number) => (keys > 1 ? `You have ${keys} keys.` : 'This is your only key.'),
    backupText: ' If you lose a key, another one still signs you in: add a second security key, or the passkey of another device you use.',
    backupButton: 'Add a backup key',
    gitHeading: 'Set up git',
    gitText: (menu: string, username: string) =>
      `Git does not use your key. In Gogs, open ${menu} and generate an access token, then give it as the password when git asks (your username stays ${username}).`,
    gitMenu: 'Your settings → Applications',
    noGitPassword: ' Your Gogs password does not work for git here.',
    tokenButton: 'Create an access token in Gogs',
    continue: 'Continue to Gogs',
  },

  account: {
    title: 'Your account',
    signedInAs: (username: string) => `Signed in as ${username}.`,
    keysHeading: 'Your keys',
    noKeys: 'You have no keys.',
    confirmHint: "Renaming or removing a key asks you to confirm it's you with one of your keys if you haven't in the last few minutes.",
    unnamedKey: 'Unnamed key',
    usedForThisSession: '(used for this session)',
    policyRefuses: 'This key will not sign you in again here.',
    askForLink: 'Ask your administrator for a recovery link to enrol an allowed key.',
    added: (time: string) => `Added ${time}`,
    lastUsedNever: 'Last used never',
    lastUsed: (time: string) => `Last used ${time}`,
    lastUsedFrom: (time: string, ip: string) => `Last used ${time} from ${ip}`,
    inBrowser: (browser: string) => ` (${browser})`,
    modelNotKnown: 'Model not known',
    rename: 'Rename',
    renameKey: (name: string) => `Rename ${name}`,
    remove: 'Remove',
    removeKey: (name: string) => `Remove ${name}`,
    newName: 'New name',
    saveName: 'Save name',
    cancel: 'Cancel',
    confirmRemoval: 'Confirm removal',
    keepIt: 'Keep it',
    addHeading: 'Add another key',
    addText: 'A second key lets you sign in if you lose or forget the first.',
    newKeyName: 'Name for the new key',
    optional: '(optional)',
    newKeyPlaceholder: 'For example: Work laptop',
    addButton: 'Add a key',
    sessionsHeading: 'Your sessions',
    unknownBrowser: 'Unknown browser',
    thisBrowser: '(this browser)',
    from: (ip: string) => `From ${ip}`,
    signedIn: (time: string) => `signed in ${time}`,
    lastActive: (time: string) => `last active ${time}`,
    signOutSession: (browser: string) => `Sign out ${browser}`,
    thisSession: 'this session',
    signOut: 'Sign out',
    signOutOthers: 'Sign out all other sessions',
    onlyThisBrowser: 'You are signed in in this browser only.',
    backToGogs: 'Back to Gogs',
    administration: 'Administration',
    keyAddedNotice: 'Key added. If you added it because another key may be lost or in someone else’s hands, also sign out your other sessions.',
    noOtherSession: 'No other session was signed in.',
    signedOutOthers: (n: number) => (n === 1 ? 'Signed out 1 other session.' : `Signed out ${n} other sessions.`),
  },

  /** A browser as the pages name it, from its User-Agent: "Chrome 126 on Linux". */
  browsers: {
    on: (browser: string, os: string) => `${browser} on ${os}`,
    someBrowserOn: (os: string) => `a browser on ${os}`,
  },

  /** How long an invite lasts (INVITE_TTL), in words. */
  durations: {
    days: (n: number) => (n === 1 ? '1 day' : `${n} days`),
    hours: (n: number) => (n === 1 ? '1 hour' : `${n} hours`),
    minutes: (n: number) => (n === 1 ? '1 minute' : `${n} minutes`),
    seconds: (n: number) => (n === 1 ? '1 second' : `${n} seconds`),
  },

  /** What kind of key it is, on the account and admin pages (docs/glossary.md). */
  kinds: {
    securityKey: 'Security key',
    builtIn: 'Built-in authenticator',
    syncedBackedUp: 'Synced passkey (backed up)',
    syncedBackupEligible: 'Synced passkey (backup eligible)',
  },

  admin: {
    nav: 'Admin',
    users: 'Users',
    auditLog: 'Audit log',
    policy: 'Policy',
    yourAccount: 'Your account',
    adminTag: 'Admin',
    pages: 'Pages',

    title: 'Administration',
    searchLabel: 'Search users by name',
    search: 'Search',
    colUser: 'User',
    colRole: 'Role',
    colState: 'State',
    colKeys: 'Keys',
    colCreated: 'Created',
    roleUser: 'User',
    stateDisabled: 'Disabled',
    stateActive: 'Active',
    keyCount: (active: number) => (active === 1 ? '1 key' : `${active} keys`),
    revokedCount: (revoked: number) => ` (${revoked} revoked)`,
    removedCount: (removed: number) => ` (${removed} removed by their owner)`,
    noMatch: (q: string) => `No user's name contains “${q}”.`,
    noUsers: 'No users yet.',
    previousPage: 'Previous page',
    nextPage: 'Next page',
    inviteHeading: 'Invite someone',
    emergencyHeading: 'Emergency',
    emergencyText:
      'If keys or sessions may be in the wrong hands, sign everyone out at once. Everyone but you must sign in again with their keys; nobody is disabled and no key is revoked.',
    signEveryoneOut: 'Sign everyone out',

    username: 'Username',
    usernameHint: 'Their Gogs username. For someone already enrolled this makes a recovery link: it adds a key and keeps their others.',
    email: 'Email (to create their Gogs account if it does not exist yet)',
    emailHint: 'Keygate creates missing Gogs accounts with this email and a random password nobody sees.',
    emailOptional: 'Email (optional)',
    emailMailHint:
      'Keygate emails them here when a key of theirs is added, removed or revoked, a recovery link is issued for them, or they sign in from a new browser.',
    emailMailHintGogs:
      'Keygate emails them here when a key of theirs is added, removed or revoked, a recovery link is issued for them, or they sign in from a new browser. It also creates a missing Gogs account with this email and a random password nobody sees.',
    makeAdmin: 'Make them an administrator',
    validFor: 'Valid for',
    defaultTtl: (ttl: string) => `${ttl} (default)`,
    oneHour: '1 hour',
    sevenDays: '7 days',
    thirtyDays: '30 days',
    createRecoveryLink: 'Create a recovery link',
    createInviteLink: 'Create an invite link',
    inviteLink: 'Invite link',
    newInviteLink: 'New invite link',
    copyLink: 'Copy link',
    shownOnce: 'This link is shown only this once: Keygate keeps only a fingerprint of it. Send it to the person over a channel you trust.',

    pendingHeading: 'Pending invites',
    colFor: 'For',
    colKind: 'Kind',
    colMadeBy: 'Made by',
    colMade: 'Made',
    colExpires: 'Expires',
    colActions: 'Actions',
    kindRecovery: 'Recovery link',
    kindInvite: 'Invite',
    byCli: 'the CLI',
    actorCli: 'Command line',
    byFirstStart: 'Keygate (first start)',
    reissue: 'Re-issue',
    revoke: 'Revoke',
    noPending: 'No pending invites.',
    onlyNewest: (count: string, command: string) => `Only the newest ${count} are shown here; ${command} lists every one.`,

    unnamedKey: 'Unnamed key',
    revokedAt: (time: string) => `Revoked ${time}`,
    removedAt: (time: string) => `Removed by its owner ${time}`,
    policyRefuses: 'Refused by the current policy at its next sign-in.',
    added: (time: string) => `Added ${time}`,
    lastUsedNever: 'Last used never',
    lastUsed: (time: string) => `Last used ${time}`,
    lastUsedFrom: (time: string, ip: string) => `Last used ${time} from ${ip}`,
    lastUsedWith: (time: string, browser: string) => `Last used ${time} with ${browser}`,
    lastUsedFromWith: (time: string, ip: string, browser: string) => `Last used ${time} from ${ip} with ${browser}`,
    keyId: 'Key id',
    session: (id: string, key: string) => `Session ${id}… with ${key}`,
    unknownKey: 'an unknown key',
    signedInLastSeen: (signedIn: string, lastSeen: string) => `Signed in ${signedIn}, last seen ${lastSeen}`,
    endsAtTheLatest: (time: string) => `Ends at the latest ${time}`,
    disabledSince: (time: string) => `Disabled since ${time}`,
    you: ' (you)',
    knownSince: (time: string) => `Known to Keygate since ${time}.`,
    keysHeading: 'Keys',
    noKeys: 'No keys.',
    sessionsHeading: 'Signed-in sessions',
    noSessions: 'No active sessions.',
    accountHeading: 'Account',
    endAllSessions: 'End all sessions',
    enableUser: (username: string) => `Enable ${username}`,
    disableUser: (username: string) => `Disable ${username}`,
    recoveryHeading: 'Recovery link',
    recoveryText: (username: string) => `A lost key? Revoke it above, then send ${username} a recovery link: it adds a new key and keeps the others.`,
    disabledFirst: (username: string) => `${username} is disabled: enable them first, or the link will be refused.`,
    invitedTag: 'Invited',
    noAccountYet: (username: string) => `${username} has no account yet: one is made when they enrol a key with an invite link.`,

    policyHeading: 'Authenticator policy',
    policyHint: (file: string, command: string) =>
      `Set by Keygate's configuration (environment or ${file}) and read at start-up; it cannot be changed here. Run ${command} with a tightened configuration to see who it would refuse before you deploy it.`,
    colSetting: 'Setting',
    colValue: 'Value',
    colVariable: 'Variable',
    refusedHeading: 'Keys this policy refuses',
    refusedCount: (n: number) =>
      n === 1
        ? '1 active key will be refused at the next sign-in. Send these people a recovery link so they can enrol an allowed key.'
        : `${n} active keys will be refused at the next sign-in. Send these people a recovery link so they can enrol an allowed key.`,
    noRefused: 'Every active key meets this policy.',

    auditUser: 'User',
    auditEvent: 'Event',
    allEvents: 'All events',
    auditFrom: 'From (UTC)',
    auditUntil: 'Until (UTC)',
    filter: 'Filter',
    clear: 'Clear',
    colTime: 'Time',
    colBy: 'By',
    colPerson: 'Person',
    colWhat: 'What',
    colFrom: 'From',
    colDetails: 'Details',
    failed: 'failed',
    more: 'More',
    aboutEntry: (id: string) => ` about entry ${id}`,
    detailEvent: 'Event',
    detailOutcome: 'Outcome',
    detailReason: 'Reason',
    detailKey: 'Key',
    detailUserAgent: 'User agent',
    detailRequestId: 'Request id',
    noEntries: 'No audit entries match these filters.',
    newest: 'Newest',
    older: 'Older',
    export: 'Export every entry these filters match:',
    jsonLines: 'JSON lines',

    notAdmin: 'Only administrators can open the admin area. Ask an administrator if you need access.',
  },

  /** What each audit event is called on the audit log (server/audit/events.ts). */
  auditEvents: {
    invite_created: 'Invite link created',
    invite_redeemed: 'Invite link used',
    invite_revoked: 'Invite link revoked',
    credential_registered: 'Key added',
    credential_renamed: 'Key renamed',
    credential_removed: 'Key removed',
    credential_revoked: 'Key revoked',
    sign_in: 'Sign-in',
    sign_out: 'Sign-out',
    user_disabled: 'Account disabled',
    user_enabled: 'Account enabled',
    sessions_ended: 'Sessions signed out',
    all_sessions_ended: 'Everyone signed out',
    gogs_account_missing: 'No Gogs account',
    step_up_prompted: 'Asked to confirm it’s them',
    step_up_passed: 'Confirmed it’s them',
    step_up_failed: 'Confirming it’s them failed',
    rate_limited: 'Rate limited',
    gogs_user_created: 'Gogs account created',
    admin_flag_synced: 'Gogs admin flag synced',
  },

  /**
   * The authenticator policy (server/policy/): what a key must be, on the enrolment and account
   * pages; why it refuses one, on the account and admin pages and in the answer to an enrolment or
   * a sign-in; its settings on the admin policy page. The CLI says the same in English.
   */
  policy: {
    requiresSecurityKey: 'Security keys (such as a YubiKey) only, not the authenticator built into a computer or phone.',
    requiresBuiltIn: 'Only the authenticator built into your device (Touch ID, Windows Hello or your phone’s screen lock), not a separate security key.',
    requiresUserVerification: 'Authenticators that verify you with a PIN, fingerprint or face.',
    requiresPasskey: 'Passkeys stored on the authenticator itself.',
    requiresNoSyncedPasskey: 'No synced passkeys (passkeys copied to a cloud account).',
    requiresAttestation: 'Only authenticators whose maker vouches for them (certified by the FIDO Alliance); your browser may ask to share its make and model.',
    onlyTheseModels: (models: string) => `Only these models: ${models}.`,
    notTheseModels: (models: string) => `Not these models: ${models}.`,
    /** Between the items of a list of models or algorithms. */
    listSeparator: ', ',

    compromised: (model: string, status: string) => `The FIDO Alliance reports this authenticator model (${model}) as ${status}, so it is not accepted.`,
    /** The FIDO metadata status reports that make a model refused, as `compromised` says them. */
    fidoStatus: {
      REVOKED: 'revoked',
      ATTESTATION_KEY_COMPROMISE: 'attestation key compromise',
      USER_VERIFICATION_BYPASS: 'user verification bypass',
      USER_KEY_REMOTE_COMPROMISE: 'user key remote compromise',
      USER_KEY_PHYSICAL_COMPROMISE: 'user key physical compromise',
    },
    modelDenied: (model: string) => `This organisation does not accept this authenticator model (${model}).`,
    modelNotAllowed: (model: string) => `This organisation accepts only approved authenticator models, and ${model} is not one of them.`,
    untrustedAttestation:
      'This organisation accepts only authenticators whose maker vouches for them (an attestation certified by the FIDO Alliance), and this one did not prove its make and model.',
    untrustedAttestationAdmins:
      'This organisation accepts for administrators only authenticators whose maker vouches for them (an attestation certified by the FIDO Alliance), and this one did not prove its make and model.',
    syncedPasskey:
      'This organisation does not accept synced passkeys (passkeys copied to a cloud account). Use a security key, or a passkey that stays on this device.',
    syncedPasskeyAdmins:
      'This organisation does not accept synced passkeys for administrators (passkeys copied to a cloud account). Use a security key, or a passkey that stays on this device.',
    onlySecurityKeys: 'This organisation accepts only security keys (such as a YubiKey), not the authenticator built into a computer or phone.',
    onlyBuiltIn:
      'This organisation accepts only the authenticator built into your device (Touch ID, Windows Hello or your phone’s screen lock), not a separate security key.',
    residentKey:
      'This organisation accepts only passkeys stored on the authenticator itself (discoverable credentials), and this authenticator did not store one.',
    algorithm: (accepted: string, used: string) => `This organisation accepts only keys that sign with ${accepted}; this one uses ${used}.`,
    coseAlgorithm: (id: number) => `COSE algorithm ${id}`,
    userVerification:
      'This organisation accepts only authenticators that verify you with a PIN, fingerprint or face, and this one did not. Set a PIN or fingerprint up on your key, or use another authenticator.',
    tooManyKeys: (active: number, max: number) =>
      `You already have ${active} keys, and this organisation allows at most ${max}. Remove one on your account page before adding another.`,
    /** A sign-in refused by the policy: `why` is its refusals, one after the other. */
    noLongerAccepted: (why: string) => `This key is no longer accepted here. ${why} Ask your administrator for a recovery link to enrol an allowed key.`,

    /** A model the shipped list and the FIDO metadata do not name (admin pages). */
    unknownModel: (aaguid: string) => `Unknown authenticator (${aaguid})`,
    unknownModelNoAaguid: 'Unknown authenticator (no AAGUID)',

    /** The settings table of the admin policy page (server/policy/describe.ts). */
    settings: {
      attestation: 'Attestation conveyance',
      trustedAttestation: 'Trusted attestation chain',
      aaguidAllow: 'Allowed models',
      aaguidDeny: 'Denied models',
      syncedPasskeys: 'Synced passkeys (backup eligible)',
      attachment: 'Authenticator attachment',
      residentKey: 'Resident (discoverable) key',
      userVerification: 'User verification (PIN, biometrics)',
      algorithms: 'Signature algorithms',
      ceremonyTimeout: 'Ceremony timeout',
      maxCredentials: 'Keys per person',
      mds: 'FIDO metadata (MDS3)',
    },
    values: {
      none: 'none',
      anyModel: 'any model',
      /** ATTESTATION. */
      conveyance: { none: 'none', indirect: 'indirect', direct: 'direct', enterprise: 'enterprise' },
      /** RESIDENT_KEY and USER_VERIFICATION. */
      requirement: { required: 'required', preferred: 'preferred', discouraged: 'discouraged' },
      /** REQUIRE_TRUSTED_ATTESTATION. */
      trust: { no: 'not required', admins: 'required for administrators', everyone: 'required for everyone' },
      synced: { allow: 'allowed', 'refuse-for-admins': 'refused for administrators', refuse: 'refused for everyone' },
      attachment: {
        any: 'security keys and built-in authenticators',
        platform: 'built-in (platform) authenticators only',
        'cross-platform': 'security keys (cross-platform) only',
      },
      atMost: (n: number) => `at most ${n}`,
      mdsNotConfigured: 'not configured',
      mdsLoaded: (source: string, serial: string, nextUpdate: string, entries: number) =>
        `${source}: serial ${serial}, next update ${nextUpdate}, ${entries} authenticator models`,
      mdsDisabled: (source: string, reason: string) => `DISABLED: ${source} was refused (${reason})`,
    },
  },

  /** What a sign-in or enrolment attempt that is no longer the one started says (server/webauthn/ceremony.ts). */
  attempts: {
    no_ceremony: 'This attempt is no longer valid (it was already used, or it started in another browser). Please try again.',
    wrong_ceremony: 'This attempt does not match the one that was started. Please try again.',
    wrongInvite: 'This attempt does not match the enrolment link. Please reload the page and try again.',
    challenge_expired: 'This attempt took too long and expired. Please try again.',
    framed: "This key answered inside a frame of another site. Sign in on this site's own page.",
  },

  /**
   * What the admin pages and the admin API answer when they refuse (server/admin/, invites, users,
   * credentials, Gogs' admin API). The CLI says the same in English.
   */
  adminErrors: {
    notADuration: (ttl: string) => `"${ttl}" is not a duration. Use for example 30m, 24h or 7d.`,
    inviteTtl: 'An invite must last between 1 second and 30 days.',
    notACredentialId: 'That is not a credential id.',
    notAnInviteId: 'That is not an invite id.',
    cannotDisableSelf: 'You cannot disable your own account. Ask another administrator.',
    fromNotATime: '“From” is not a time: use for example 2026-01-31T12:00 (UTC).',
    untilNotATime: '“Until” is not a time: use for example 2026-01-31T18:00 (UTC).',
    notAGogsUsername: (username: string) =>
      `"${username}" is not a valid Gogs username (letters, digits, "_", "-", ".", at most 35, not starting with "-" or ".").`,
    reservedName: (username: string) =>
      `"${username}" is a name Gogs reserves (admin, api, explore, *.keys…): Gogs can never have that user; choose another name.`,
    notAnEmail: (email: string) => `"${email}" is not an email address.`,
    notInGogsYet: (username: string) =>
      `${username} does not exist in Gogs yet: give an email address (--email on the command line) so Keygate can create the account.`,
    recoveryForDisabled: (username: string) => `${username} is disabled, so a recovery link would not work. Enable them first, then send one.`,
    noSuchInvite: (id: string) => `There is no invite with id ${id}.`,
    inviteUsed: (id: string, username: string, time: string) => `Invite ${id} for ${username} was already used, on ${time}. Nothing was changed.`,
    inviteRevoked: (id: string, username: string, time: string) => `Invite ${id} for ${username} was already revoked, on ${time}. Nothing was changed.`,
    inviteExpired: (id: string, username: string, time: string) => `Invite ${id} for ${username} already expired, on ${time}. Nothing was changed.`,
    inviteWithdrawn: (id: string, username: string) =>
      `Invite ${id} for ${username} was a first-run link, already withdrawn because an administrator exists. Nothing was changed.`,
    inviteChanged: (id: string, username: string) => `Invite ${id} for ${username} changed while Keygate looked at it. Try again.`,
    noSuchUser: (username: string) => `There is no user named "${username}".`,
    noSuchCredential: (id: string) => `There is no credential with id "${id}".`,

    gogsUnreachable: (doing: string, detail: string) => `Gogs did not answer while Keygate was ${doing} (${detail}). Check GOGS_URL and that Gogs is running.`,
    gogsLookingUp: (username: string) => `looking up ${username}`,
    gogsCreating: (username: string) => `creating ${username}`,
    gogsTokenRefused: (status: number) =>
      `Gogs refused Keygate's admin token (HTTP ${status}): GOGS_ADMIN_TOKEN must be an access token of a Gogs site administrator.`,
    gogsLookupStatus: (status: number, username: string) => `Gogs answered HTTP ${status} when Keygate looked up ${username}.`,
    gogsLookupNotJson: (username: string) => `Gogs answered ${username}'s lookup with something that is not JSON.`,
    /** `reason` is what Gogs said, as it said it. */
    gogsRefusedUser: (reason: string) => `Gogs refused to create the user: ${reason}.`,

    /** A request body or an address refused by its schema (server/http/validate.ts, server/admin/query.ts). */
    invalidRequest: (issue: string) => `Invalid request: ${issue}`,
    invalidRequestField: (field: string, issue: string) => `Invalid request: ${field}: ${issue}`,
    invalidParameter: (issue: string) => `This address has an invalid parameter: ${issue}.`,
    invalidNamedParameter: (name: string, issue: string) => `This address has an invalid “${name}” parameter: ${issue}.`,
    atMostCharacters: (max: number) => `must be at most ${max} characters`,
    unknownFields: (fields: string) => `unknown field ${fields}`,
    /** What a field's or a parameter's schema says is wrong with it (its zod message is the key). */
    issues: {
      notValid: 'is not valid',
      giveOnce: 'give it once',
      pageNumber: 'must be a page number',
      auditEntryNumber: 'must be an audit entry number',
      notAnEvent: 'is not an event Keygate records',
      csvOrJsonl: 'must be csv or jsonl',
      enterUsername: 'enter the username the invite is for',
      gogsUsernameLength: 'a Gogs username has at most 35 characters',
      trueOrFalse: 'must be true or false',
      durationLike: 'must be a duration such as 24h',
      emailAddress: 'must be an email address',
      emailLength: 'an email address has at most 254 characters',
      reasonLength: 'keep the reason under 200 characters',
      nameText: 'the new name must be text',
      confirmLastBoolean: 'confirmLast must be true or false',
    },
  },

  /** Titles of error pages, by HTTP status. */
  titles: {
    400: 'Bad request',
    401: 'Sign-in needed',
    403: 'Not allowed',
    404: 'Not found',
    410: 'Link no longer valid',
    413: 'Request too large',
    429: 'Too many attempts',
    500: 'Something went wrong',
    502: 'Gogs is unreachable',
    503: 'Temporarily unavailable',
    504: 'Gogs is too slow to answer',
    gogsAccountMissing: 'No Gogs account for you yet',
    error: 'Error',
    requestRefused: 'Request refused',
    tooManyRequests: 'Too many requests',
    continueToGogs: 'Continue to Gogs?',
  },

  /** What Keygate answers when it cannot go on: on error pages and in the API's JSON errors. */
  errors: {
    notFound: 'There is nothing at this address.',
    signInFirst: 'Sign in first.',
    sessionEnded: 'Your session has ended. Sign in again.',
    databaseUnavailable: 'Keygate cannot reach its database right now, so it did not go on. Try again in a moment.',
    limitsUnavailable: 'Keygate cannot check its limits right now, so it did not go on. Try again in a moment.',
    bodyTooLarge: 'The request body is too large.',
    bodyTooLargeAtMost: (kib: number) => `The request body is too large (at most ${kib} KiB).`,
    bodyTimeout: 'The request body did not arrive in time.',
    malformedJson: 'The request body is not valid JSON.',
    unsupportedEncoding: 'The request body encoding is not supported.',
    cannotHandle: 'This request could not be handled.',
    internal: 'Something went wrong on our side. Try again; if it keeps happening, tell your administrator.',
    restarting: 'Keygate is restarting and could not finish this request in time. Try again in a moment.',
    crossSite: 'This request came from another site, so Keygate refused it.',
    confirmItsYou: "Confirm it's you with your security key or passkey to continue.",
    tooManyAttemptsSeconds: (seconds: number) =>
      seconds === 1 ? 'Too many attempts. Wait 1 second, then try again.' : `Too many attempts. Wait ${seconds} seconds, then try again.`,
    tooManyAttemptsMinutes: (minutes: number) => `Too many attempts. Wait ${minutes} minutes, then try again.`,
    nameRule: "A key's name must be 1 to 64 characters.",
    accountDisabled: 'This account is disabled. Ask your administrator.',
    lastKey: 'This is your last key. If you remove it you will need a recovery link from your administrator to get back in.',
    enrolmentConflict: 'This account changed while you were enrolling. Please reload the page and try again.',
    renameRevoked: 'This key has been revoked and cannot be renamed.',
  },

  /** Why a sign-in or an enrolment failed (server/webauthn/failures.ts). */
  ceremony: {
    unknown_credential: 'This key is not enrolled here.',
    user_disabled: 'This account is disabled. Ask your administrator.',
    access_ended: 'This key was revoked, or this account disabled, while you were signing in. Ask your administrator.',
    counter_regression:
      "This key's signature counter went backwards, which can mean the key was cloned. Sign-in was refused and recorded; tell your administrator.",
    concurrent_use: 'This key was used twice at once. Please try again.',
    already_registered: 'This key is already enrolled here. Use another key, or sign in with this one.',
    user_not_verified: 'Your key did not verify you (PIN, fingerprint or face). Keygate requires it; please try again.',
    credential_id_too_long: 'This key returned an invalid key id.',
    algorithm_not_allowed: "This key's signature algorithm is not accepted here.",
    malformed_response: "Your browser sent a response Keygate couldn't read. Please try again.",
    other: "Your key's response could not be verified. Please try again.",
  },

  /** The proxy's own pages (server/proxy/handler.ts): Gogs down or slow, refused requests. */
  proxy: {
    cannotPassOn: 'This request could not be passed on as it stands.',
    gogsSlow: 'Keygate is running, but the Git service behind it did not answer in time. Try again in a moment; if it persists, tell your administrator.',
    gogsUnreachable: 'Keygate is running, but the Git service behind it did not answer. Try again in a moment; if it persists, tell your administrator.',
    crossSite: 'This request came from another site, so Keygate did not pass it on. If you meant to do this, go back to the page and try again.',
    tooManyInFlight: 'Too many requests from your address are still in progress. Wait for them to finish, then try again.',
    signInFirst: 'Sign in with your security key or passkey first.',
    gogsAccountMissing: (username: string) =>
      `You are signed in to Keygate as ${username}, but Gogs has no account of that name, so it cannot show you its pages. Ask your administrator to create the Gogs account ${username}; then open Gogs again.`,
    badAddress: 'This address could not be understood.',
    sessionCheckUnavailable: 'Keygate cannot check your session right now. Try again in a moment.',
    followedLink: (path: string) =>
      `You followed a link from another site to ${path}. Opening it changes something in Gogs (for example, it closes a milestone). Continue only if you meant to.`,
    /** Why git or the API was refused its Authorization header (server/proxy/authorization.ts), on the 401 page. */
    authorization: {
      non_ascii: 'The Authorization header may only contain plain ASCII characters. For git and the API, use a Gogs access token as the password.',
      malformed: 'These credentials could not be read. For git and the API, use a Gogs access token as the password.',
      empty_password: 'A password cannot be empty. For git and the API, use a Gogs access token as the password.',
      password:
        'Keygate does not accept account passwords for git or the API. Create an access token in Gogs (Your settings, Applications) and use it as the password.',
    },
  },
};

/** Every language's catalogue has this shape: a key missing in one is a type error. */
export type Catalogue = typeof en;
/** The part of it the browser scripts carry. */
export type ClientCatalogue = typeof client;
