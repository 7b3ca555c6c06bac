namespace DumpShell.Format.Minidump;

/// <summary>
/// MINIDUMP_MISC_INFO in any of its versions. A field is null when the record is too short for it or
/// its Flags1 bit is clear: the writer did not supply it.
/// </summary>
public sealed record MiscInfoRecord(
    /// <summary>SizeOfInfo as far as the stream's bytes bear it out.</summary>
    uint SizeOfInfo,
    uint Flags1,
    uint? ProcessId,
    uint? ProcessCreateTime,
    uint? ProcessUserTime,
    uint? ProcessKernelTime,
    uint? ProcessorMaxMhz,
    uint? ProcessorCurrentMhz,
    uint? ProcessorMhzLimit,
    uint? ProcessIntegrityLevel,
    uint? ProcessExecuteFlags,
    uint? ProtectedProcess,
    uint? TimeZoneId,
    int? TimeZoneBias,
    string? TimeZoneStandardName,
    string? TimeZoneDaylightName,
    string? BuildString,
    string? DebugBuildString,
    uint? ProcessCookie)
{
    /// <summary>The struct version implied by its size: 1 (24 bytes) to 5.</summary>
    public int Version => SizeOfInfo switch
    {
        >= MiscInfoSizes.V5 => 5,
        >= MiscInfoSizes.V4 => 4,
        >= MiscInfoSizes.V3 => 3,
        >= MiscInfoSizes.V2 => 2,
        _ => 1,
    };
}

internal static class MiscInfoSizes
{
    public const uint V1 = 24;
    public const uint V2 = 44;
    public const uint V3 = 232;
    public const uint V4 = 832;
    // MINIDUMP_MISC_INFO_5 adds XSTATE_CONFIG_FEATURE_MSC_INFO (528 bytes) and a ULONG ProcessCookie.
    public const uint V5 = 1364;
}

[Flags]
internal enum MiscInfoFlags : uint
{
    ProcessId = 0x1,
    ProcessTimes = 0x2,
    ProcessorPowerInfo = 0x4,
    ProcessIntegrity = 0x10,
    ProcessExecuteFlags = 0x20,
    TimeZone = 0x40,
    ProtectedProcess = 0x80,
    BuildString = 0x100,
    ProcessCookie = 0x200,
}

public sealed partial class MinidumpFile
{
    private MiscInfoRecord? _miscInfo;
    private bool _miscInfoRead;

    /// <summary>The MiscInfo stream, or null when the dump has none.</summary>
    public MiscInfoRecord? MiscInfo => Once(ref _miscInfo, ref _miscInfoRead, ReadMiscInfo);

    private MiscInfoRecord? ReadMiscInfo()
    {
        if (!TryGetStream(MinidumpStreamType.MiscInfo, out var data)) return null;
        var r = new ByteReader(data);
        uint declared = r.U32(0);
        // Trust the smaller of the declared size and the bytes present: Breakpad once wrote SizeOfInfo
        // larger than the stream, and a hostile file can claim anything.
        uint size = Math.Min(declared, (uint)data.Length);
        if (data.Length < MiscInfoSizes.V1 || declared < MiscInfoSizes.V1)
        {
            Report("MiscInfoTruncated", $"The MiscInfo stream is {data.Length} bytes (SizeOfInfo {declared}); version 1 needs {MiscInfoSizes.V1}.",
                MinidumpStreamType.MiscInfo);
            if (data.Length < 8) return null;
        }
        var flags = (MiscInfoFlags)r.U32(4);
        bool Has(MiscInfoFlags f, uint minSize) => flags.HasFlag(f) && size >= minSize;
        static uint? U32If(ByteReader r, bool present, int offset) => present ? r.U32(offset) : null;

        bool timeZone = Has(MiscInfoFlags.TimeZone, MiscInfoSizes.V3);
        bool build = Has(MiscInfoFlags.BuildString, MiscInfoSizes.V4);
        return new MiscInfoRecord(
            size, (uint)flags,
            U32If(r, Has(MiscInfoFlags.ProcessId, 12), 8),
            U32If(r, Has(MiscInfoFlags.ProcessTimes, 16), 12),
            U32If(r, Has(MiscInfoFlags.ProcessTimes, 20), 16),
            U32If(r, Has(MiscInfoFlags.ProcessTimes, 24), 20),
            U32If(r, Has(MiscInfoFlags.ProcessorPowerInfo, MiscInfoSizes.V2), 24),
            U32If(r, Has(MiscInfoFlags.ProcessorPowerInfo, MiscInfoSizes.V2), 28),
            U32If(r, Has(MiscInfoFlags.ProcessorPowerInfo, MiscInfoSizes.V2), 32),
            U32If(r, Has(MiscInfoFlags.ProcessIntegrity, MiscInfoSizes.V3), 44),
            U32If(r, Has(MiscInfoFlags.ProcessExecuteFlags, MiscInfoSizes.V3), 48),
            U32If(r, Has(MiscInfoFlags.ProtectedProcess, MiscInfoSizes.V3), 52),
            U32If(r, Has(MiscInfoFlags.TimeZone, MiscInfoSizes.V3), 56),
            timeZone ? r.I32(60) : null,
            timeZone ? r.Utf16Z(64, 32) : null,
            timeZone ? r.Utf16Z(64 + 64 + 16 + 4, 32) : null,
            build ? r.Utf16Z(232, 260) : null,
            build ? r.Utf16Z(752, 40) : null,
            Has(MiscInfoFlags.ProcessCookie, MiscInfoSizes.V5) ? r.U32(1360) : null);
    }
}
