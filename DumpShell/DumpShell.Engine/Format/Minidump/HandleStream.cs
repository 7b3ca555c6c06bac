namespace DumpShell.Format.Minidump;

/// <summary>MINIDUMP_HANDLE_DESCRIPTOR or MINIDUMP_HANDLE_DESCRIPTOR_2 (which adds ObjectInfoRva).</summary>
public sealed record HandleRecord(
    ulong Handle, string? TypeName, string? ObjectName, uint Attributes, uint GrantedAccess,
    uint HandleCount, uint PointerCount, uint ObjectInfoRva);

public sealed partial class MinidumpFile
{
    private const int HandleDescriptorSize = 32;
    private const int HandleDescriptor2Size = 40;

    private IReadOnlyList<HandleRecord>? _handles;
    private bool _handlesRead;

    /// <summary>The HandleData stream's descriptors, or null when the dump has no HandleData stream.</summary>
    public IReadOnlyList<HandleRecord>? Handles => Once(ref _handles, ref _handlesRead, ReadHandles);

    private IReadOnlyList<HandleRecord>? ReadHandles()
    {
        const MinidumpStreamType stream = MinidumpStreamType.HandleData;
        if (!TryGetStream(stream, out var data)) return null;
        var r = new ByteReader(data);
        uint headerSize = r.U32(0), entrySize = r.U32(4), declared = r.U32(8);
        if (data.Length < 16 || headerSize < 16 || headerSize > data.Length || entrySize < HandleDescriptorSize)
        {
            Report("HandleDataCorrupt", $"The HandleData header is unusable (header {headerSize}, descriptor {entrySize}).", stream);
            return [];
        }
        int count = FittingCount(stream, declared, data.Length - (int)headerSize, (int)entrySize, "handles");
        var handles = new HandleRecord[count];
        for (int i = 0; i < count; i++)
        {
            int at = (int)headerSize + i * (int)entrySize;
            uint typeRva = r.U32(at + 8), objectRva = r.U32(at + 12);
            string? typeName = ReadString(typeRva), objectName = ReadString(objectRva);
            if ((typeName is null && typeRva != 0) || (objectName is null && objectRva != 0))
                Report("HandleNameUnreadable", $"Handle 0x{r.U64(at):X} has a type or object name that is not a readable MINIDUMP_STRING.", stream);
            handles[i] = new HandleRecord(r.U64(at), typeName, objectName,
                r.U32(at + 16), r.U32(at + 20), r.U32(at + 24), r.U32(at + 28),
                entrySize >= HandleDescriptor2Size ? r.U32(at + 32) : 0);
        }
        return handles;
    }
}
