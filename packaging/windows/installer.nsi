; Cocoon Desktop's Windows installer (NSIS 3, built by packaging/windows/build-installer.sh).
; Per user, no admin rights: %LOCALAPPDATA%\Programs\Cocoon Desktop, like Ollama's own installer.
; The owner's data (ledger, keys, settings, models) lives outside the install dir
; (%LOCALAPPDATA%\CocoonDesktop and %APPDATA%\CocoonDesktop, internal/paths), so an upgrade
; or an uninstall never touches it unless the owner ticks "Remove my data" (or /REMOVEDATA).
;
; Defines (makensis -D...): VERSION (0.1.0), VIVERSION (0.1.0.0), APPEXE, OLLAMAEXE, ICON,
; OUTFILE. Command line of the installer: /S silent, /AUTOSTART start at login, /D=dir.
; Of the uninstaller: /S silent (keeps the data), /REMOVEDATA also removes the data.
; 64-bit stubs: the app is amd64 only, and Wine without its 32-bit half (Debian wine64) runs them.
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user
; No build-machine file times in the installer: the same inputs give the same payload.
SetDateSave off

!include MUI2.nsh
!include FileFunc.nsh
!include LogicLib.nsh
!include Sections.nsh

!define PRODUCT "Cocoon Desktop"
!define PUBLISHER "Cocoon Desktop"
!define EXE "cocoon-desktop.exe"
; The uninstall entry in Apps & features (per user).
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\CocoonDesktop"
; The login entry: the same key and value name the app's own toggle uses (internal/autostart).
!define RUNKEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define RUNVALUE "cocoon-desktop"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "${UNINSTKEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VIVERSION}"
VIFileVersion "${VIVERSION}"
VIAddVersionKey /LANG=1033 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "FileDescription" "${PRODUCT} ${VERSION} Setup"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PUBLISHER}"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT} now"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; closeApp ends a running Cocoon Desktop and its managed Ollama (/T: the process tree), so
; their files can be overwritten or removed. Not running is fine (taskkill's error is ignored).
!macro closeApp
  nsExec::Exec 'taskkill /T /F /IM ${EXE}'
  Pop $0
!macroend

Section "${PRODUCT} (required)" SecApp
  SectionIn RO
  !insertmacro closeApp
  SetOutPath "$INSTDIR"
  SetOverwrite on
  File "/oname=${EXE}" "${APPEXE}"
  ; The bundled Ollama beside the app: runtime/ollama.FindBinary looks there after an
  ; official Ollama install (which has CUDA) and $COCOON_OLLAMA.
  File "/oname=ollama.exe" "${OLLAMAEXE}"
  File "/oname=cocoon-desktop.ico" "${ICON}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\cocoon-desktop.ico"

  WriteRegStr HKCU "${UNINSTKEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTKEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\cocoon-desktop.ico"
  WriteRegStr HKCU "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTKEY}" "EstimatedSize" $0
SectionEnd

Section /o "Start at login" SecAutostart
  ; The value the app writes itself (`"exe" --start`), so its Settings toggle shows it on.
  WriteRegStr HKCU "${RUNKEY}" "${RUNVALUE}" '"$INSTDIR\${EXE}" --start'
SectionEnd

Function .onInit
  ; Upgrade in place: install where the last install went (InstallDirRegKey), data untouched.
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/AUTOSTART" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${SecAutostart}
  ${EndIf}
  ; An upgrade keeps the owner's choice about starting at login.
  ReadRegStr $R1 HKCU "${RUNKEY}" "${RUNVALUE}"
  ${If} $R1 != ""
    !insertmacro SelectSection ${SecAutostart}
  ${EndIf}
FunctionEnd

Section "un.${PRODUCT}" UnSecApp
  SectionIn RO
  !insertmacro closeApp
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\ollama.exe"
  Delete "$INSTDIR\cocoon-desktop.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  DeleteRegValue HKCU "${RUNKEY}" "${RUNVALUE}"
  DeleteRegKey HKCU "${UNINSTKEY}"
SectionEnd

; Off unless ticked: the ledger, keys, settings, logs and downloaded models (internal/paths).
Section /o "un.Remove my data (earnings ledger, keys, settings, models)" UnSecData
  RMDir /r "$LOCALAPPDATA\CocoonDesktop"
  RMDir /r "$APPDATA\CocoonDesktop"
SectionEnd

Function un.onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEDATA" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${UnSecData}
  ${EndIf}
FunctionEnd
